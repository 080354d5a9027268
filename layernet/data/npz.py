"""``.npz`` archives of arrays: ``x``, ``y`` and optionally ``x_test``, ``y_test``.

Loaded with ``allow_pickle=False``: an archive holding pickled objects is
refused, so opening an untrusted file cannot run code.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import DataError
from .dataset import DataSplits, Dataset

_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def load_npz(path: str | Path, *, require_labels: bool = True) -> DataSplits:
    """Load ``x``/``y`` (and ``x_test``/``y_test`` when present) from an ``.npz`` file.

    Args:
        path: the archive, e.g. written by ``np.savez_compressed(path, x=x, y=y)``.
        require_labels: refuse an archive without ``y`` (False for prediction inputs).

    Returns:
        ``DataSplits``: ``train`` from ``x`` ``(n, *sample_shape)`` (any integer or
        finite float dtype, kept as stored) with ``y`` ``(n,)`` int64 labels ≥ 0,
        and ``test`` from ``x_test``/``y_test`` (None when absent).

    Raises:
        DataError: naming the file and key, for a missing key, a pickled or
            non-numeric array, wrong shapes or mismatched lengths.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    if "x" not in arrays:
        raise DataError(f"{path}: no array 'x' (found: {', '.join(arrays) or 'none'}); save "
                        "with np.savez(path, x=samples, y=labels)")
    if require_labels and "y" not in arrays:
        raise DataError(f"{path}: no array 'y' of labels beside 'x' (found: {', '.join(arrays)})")
    train = _dataset(path, arrays, "x", "y", f"{path} (train)")
    if "x_test" not in arrays and "y_test" not in arrays:
        return DataSplits(train, None)
    if "x_test" not in arrays or "y_test" not in arrays:
        raise DataError(f"{path}: 'x_test' and 'y_test' go together; found only one of them")
    test = _dataset(path, arrays, "x_test", "y_test", f"{path} (test)")
    if test.sample_shape != train.sample_shape:
        raise DataError(f"{path}: 'x_test' samples are {test.sample_shape}, 'x' samples "
                        f"{train.sample_shape}; both need the same shape")
    return DataSplits(train, test)


def _read_arrays(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every array in the archive, by key, refusing pickled data."""
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: not a readable .npz archive: {exc}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single .npy array, expected an .npz archive with arrays "
                        "'x' and 'y' (save with np.savez)")
    with archive:
        return {key: _read_array(path, archive, key) for key in archive.files}


def _read_array(path: Path, archive: np.lib.npyio.NpzFile, key: str) -> npt.NDArray[Any]:
    try:
        return np.asarray(archive[key])
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise DataError(f"{path}: array {key!r} holds pickled Python objects, which layernet "
                            "does not load; save plain numeric arrays") from None
        raise DataError(f"{path}: array {key!r} is unreadable: {exc}") from None
    except _READ_ERRORS as exc:
        raise DataError(f"{path}: array {key!r} is unreadable: {exc}") from None


def _dataset(path: Path, arrays: dict[str, npt.NDArray[Any]], x_key: str, y_key: str,
             name: str) -> Dataset:
    """Check ``arrays[x_key]`` (and ``arrays[y_key]`` if present) and wrap them."""
    x = arrays[x_key]
    if x.dtype.kind not in "uif" or x.ndim < 2:
        raise DataError(f"{path}: {x_key!r} must be a numeric array (n, features...) with at "
                        f"least 2 dimensions, got {x.dtype} {x.shape}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DataError(f"{path}: {x_key!r} holds NaN or infinite values")
    if y_key not in arrays:
        return Dataset(x, None, name=name)
    y = arrays[y_key]
    if y.dtype.kind not in "ui" or y.ndim != 1:
        raise DataError(f"{path}: {y_key!r} must be 1-D integer labels, got {y.dtype} {y.shape}")
    if len(y) != len(x):
        raise DataError(f"{path}: {x_key!r} has {len(x)} samples but {y_key!r} has {len(y)} "
                        "labels; they must have the same length")
    if len(y) and y.min() < 0:
        raise DataError(f"{path}: {y_key!r} holds a negative label ({y.min()}); labels are "
                        "class indices 0, 1, ...")
    return Dataset(x, y.astype(np.int64), name=name)
