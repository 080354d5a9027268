"""Kaggle digit-recognizer CSV files: ``label,pixel0,...,pixel783`` (or the pixels alone).

Each data row is one 28×28 image, row-major, grey levels 0–255. A file with a
``label`` column is a labelled set (training or test); without it the file
is an unlabelled set for prediction (Kaggle's ``test.csv``). Errors name the
file line (1-based, the header is line 1) and the column.
"""

from __future__ import annotations

import warnings

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import DataError
from ..atomic import atomic_write, special_file
from .dataset import Dataset

if TYPE_CHECKING:
    import pandas as pd

#: The image size of a Kaggle digit row.
IMAGE_SHAPE = (28, 28)
#: The pixel column names, in order.
PIXEL_COLUMNS = tuple(f"pixel{i}" for i in range(IMAGE_SHAPE[0] * IMAGE_SHAPE[1]))
LABEL_COLUMN = "label"
#: Longest line read (a Kaggle row is about 3,200 bytes, the header about 7,000).
MAX_LINE_BYTES = 65_536
#: Most fields in the header line.
MAX_FIELDS = 1 + len(PIXEL_COLUMNS)
#: Largest label read (labels are class indices; this is where float64 stops being exact).
MAX_LABEL = 2**53
_EXPECTED = "expected 'label,pixel0,...,pixel783' (785 columns) or 'pixel0,...,pixel783' (784)"


def read_kaggle_csv(path: str | Path) -> Dataset:
    """Read a Kaggle digit-recognizer CSV file.

    Returns:
        A Dataset with ``x`` ``(n, 28, 28)`` uint8 and ``y`` ``(n,)`` int64,
        or ``y=None`` when the file has no ``label`` column.

    Raises:
        DataError: with the file, line and column, for a wrong header, an empty
            or non-numeric cell, a pixel outside 0–255 or not an integer, or
            a negative or fractional label.
    """
    path = Path(path)
    _scan_lines(path)
    frame = _read_frame(path)
    labelled = _check_columns(frame, path)
    frame = _drop_trailing_blank_lines(frame)
    if len(frame) == 0:
        raise DataError(f"{path}: no data rows after the header")
    _check_cells(frame, path)
    pixels = frame[list(PIXEL_COLUMNS)].to_numpy()
    _check_range(pixels, path, PIXEL_COLUMNS, low=0, high=255)
    x = pixels.astype(np.uint8).reshape(len(frame), *IMAGE_SHAPE)
    if not labelled:
        return Dataset(x, None, name=str(path))
    labels = _check_labels(frame, path)
    return Dataset(x, labels, name=str(path))


def _scan_lines(path: Path) -> None:
    """Check every line's length and field count before pandas sees the file.

    A line may hold at most :data:`MAX_LINE_BYTES` bytes, the header at most
    :data:`MAX_FIELDS` fields and a data row no more fields than the header, so
    a small hostile file (one line of a million commas) is refused in one pass
    that never holds more than one line, naming the line.
    """
    special = special_file(path)
    if special is not None:
        raise DataError(f"{path}: is {special}, expected a CSV file")
    try:
        with open(path, "rb") as handle:
            header_fields = 0
            number = 0
            while line := handle.readline(MAX_LINE_BYTES + 1):
                number += 1
                if len(line) > MAX_LINE_BYTES:
                    raise DataError(f"{path}: line {number} is longer than {MAX_LINE_BYTES:,} "
                                    f"bytes; {_EXPECTED}")
                fields = line.count(b",") + 1
                if number == 1:
                    header_fields = fields
                    if fields > MAX_FIELDS:
                        raise DataError(f"{path}: header has {fields} columns, {_EXPECTED}")
                elif fields > header_fields and line.strip(b" \t\r\n,"):
                    raise DataError(f"{path}: line {number} has {fields} fields, more than the "
                                    f"header's {header_fields}; {_EXPECTED}")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _check_labels(frame: pd.DataFrame, path: Path) -> npt.NDArray[np.int64]:
    """The ``label`` column as int64: every label an integer from 0 to :data:`MAX_LABEL`
    (a label beyond int64, or inf, is one error, not an overflow)."""
    import pandas as pd  # imported where used: it is slow to import

    column = frame[LABEL_COLUMN]
    with np.errstate(all="ignore"):
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values) | (values < 0) | (values > MAX_LABEL) | (values != np.floor(values))
    if bad.any():
        row = int(np.argmax(bad))
        shown = column.iat[row]
        shown = shown.item() if isinstance(shown, np.generic) else shown
        limit = "" if values[row] <= MAX_LABEL else " (labels above 2**53 are refused)"
        raise DataError(f"{path}: line {row + 2}, column {LABEL_COLUMN}: {shown!r} is not an "
                        f"integer ≥ 0{limit}")
    return values.astype(np.int64)


def _read_frame(path: Path) -> pd.DataFrame:
    """The file as a DataFrame; blank lines are kept (as empty rows) so line numbers stay right."""
    import pandas as pd  # imported where used: it is slow to import

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # only an empty cell is missing: 'nan' or 'NA' is reported as the text it is
            return pd.read_csv(path, skip_blank_lines=False, low_memory=False, index_col=False,
                               keep_default_na=False, na_values=[""])
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: a row has more fields than the header; {_EXPECTED}") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: empty file; {_EXPECTED}") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed CSV: {str(exc).strip()}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file (cannot decode it as UTF-8)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _check_columns(frame: pd.DataFrame, path: Path) -> bool:
    """Check the header; return whether the file has a label column."""
    names = [str(name) for name in frame.columns]
    labelled = bool(names) and names[0] == LABEL_COLUMN
    expected = [LABEL_COLUMN, *PIXEL_COLUMNS] if labelled else list(PIXEL_COLUMNS)
    if len(names) != len(expected):
        raise DataError(f"{path}: header has {len(names)} columns, {_EXPECTED}")
    for number, (name, wanted) in enumerate(zip(names, expected, strict=True), start=1):
        if name != wanted:
            raise DataError(f"{path}: line 1, column {number} is named {name!r}, expected "
                            f"{wanted!r} ({_EXPECTED})")
    return labelled


def _check_cells(frame: pd.DataFrame, path: Path) -> None:
    """Every cell must be a number: report the first empty or non-numeric cell by line."""
    import pandas as pd  # imported where used: it is slow to import

    bad = frame.isna().to_numpy()
    for index, dtype in enumerate(frame.dtypes):
        if not pd.api.types.is_numeric_dtype(dtype):
            bad[:, index] = pd.to_numeric(frame.iloc[:, index], errors="coerce").isna().to_numpy()
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{path}: line {row + 2}{_describe_cell(frame, row, col)}; every cell "
                        "must be a number (pixels 0-255)")


def _describe_cell(frame: pd.DataFrame, row: int, col: int) -> str:
    empty = frame.iloc[row].isna().to_numpy()
    if empty.all():
        return ": empty line"
    if empty[col]:
        return f", column {frame.columns[col]}: empty cell"
    return f", column {frame.columns[col]}: {frame.iat[row, col]!r} is not a number"


def _drop_trailing_blank_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Without the empty rows that blank lines at the end of the file produce."""
    filled = np.flatnonzero(~frame.isna().all(axis=1).to_numpy())
    return frame.iloc[: filled[-1] + 1 if len(filled) else 0]


def _check_range(values: npt.NDArray[Any], path: Path, names: tuple[str, ...],
                 low: int, high: int | None) -> None:
    """Every value must be an integer in ``[low, high]``; report the first that is not."""
    bad = values < low
    if high is not None:
        bad |= values > high
    if values.dtype.kind == "f":
        bad |= values != np.floor(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        allowed = f"an integer {low}-{high}" if high is not None else f"an integer ≥ {low}"
        value = values[row, col]
        value = value.item() if isinstance(value, np.generic) else value
        raise DataError(f"{path}: line {row + 2}, column {names[col]}: {value!r} is not {allowed}")


def write_kaggle_csv(path: str | Path, x: npt.ArrayLike, y: npt.ArrayLike | None = None) -> Path:
    """Write images (and labels) as a Kaggle digit-recognizer CSV file, atomically.

    Args:
        path: the destination.
        x: ``(n, 28, 28)`` or ``(n, 784)`` integers 0–255.
        y: ``(n,)`` integer labels, or None for an unlabelled file (no ``label`` column).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    import pandas as pd  # imported where used: it is slow to import

    path = Path(path)
    pixels = np.asarray(x)
    if pixels.ndim < 2 or math.prod(pixels.shape[1:]) != len(PIXEL_COLUMNS):
        raise DataError(f"{path}: x must be (n, 28, 28) or (n, 784), got shape {pixels.shape}")
    if pixels.dtype.kind not in "iu" or pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255:
        raise DataError(f"{path}: x must hold integers 0-255 (got dtype {pixels.dtype})")
    frame = pd.DataFrame(pixels.reshape(len(pixels), -1), columns=list(PIXEL_COLUMNS))
    if y is not None:
        labels = np.asarray(y)
        if labels.shape != (len(pixels),) or labels.dtype.kind not in "iu":
            raise DataError(f"{path}: y must be ({len(pixels)},) integers, got {labels.dtype} "
                            f"{labels.shape}")
        frame.insert(0, LABEL_COLUMN, labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as out:
        frame.to_csv(out, index=False)
    return path
