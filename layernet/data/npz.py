"""``.npz`` archives of arrays: ``x``, ``y`` and optionally ``x_test``, ``y_test``.

Read with :class:`layernet.archive.NpzReader`: an archive holding pickled
objects is refused (opening an untrusted file cannot run code), and declared
sizes are checked before anything is inflated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..archive import NpzReader
from ..errors import DataError
from .dataset import DataSplits, Dataset


#: The arrays :func:`load_npz` reads; any other entry is skipped without being inflated.
KEYS = ("x", "y", "x_test", "y_test")


def load_npz(path: str | Path, *, require_labels: bool = True) -> DataSplits:
    """Load ``x``/``y`` (and ``x_test``/``y_test`` when present) from an ``.npz`` file.

    Sizes, dtypes and shapes are checked from the zip directory and the ``.npy``
    headers before any array is inflated (see :class:`layernet.archive.NpzReader`):
    a small file cannot make layernet allocate gigabytes.

    Args:
        path: the archive, e.g. written by ``np.savez_compressed(path, x=x, y=y)``.
        require_labels: refuse an archive without ``y`` (False for prediction inputs).

    Returns:
        ``DataSplits``: ``train`` from ``x`` ``(n, *sample_shape)`` (any integer or
        finite float dtype, kept as stored) with ``y`` ``(n,)`` int64 labels ≥ 0,
        and ``test`` from ``x_test``/``y_test`` (None when absent).

    Raises:
        DataError: naming the file and key, for a missing key, a pickled or
            non-numeric array, wrong shapes or mismatched lengths, or a damaged
            or oversized archive.
    """
    path = Path(path)
    with NpzReader(path, keep=lambda key: key in KEYS, error=DataError, kind=".npz archive") as archive:
        found = list(archive.entries)
        every = ", ".join(info.filename.removesuffix(".npy") for info in archive.members)
        if "x" not in found:
            raise DataError(f"{path}: no array 'x' (found: {every or 'none'}); save "
                            "with np.savez(path, x=samples, y=labels)")
        if require_labels and "y" not in found:
            raise DataError(f"{path}: no array 'y' of labels beside 'x' (found: {every})")
        if ("x_test" in found) != ("y_test" in found):
            raise DataError(f"{path}: 'x_test' and 'y_test' go together; found only one of them")
        _check_declared(path, archive, "x", "y")
        if "x_test" in found:
            _check_declared(path, archive, "x_test", "y_test")
            x, x_test = archive.entries["x"], archive.entries["x_test"]
            if x_test.shape[1:] != x.shape[1:]:
                raise DataError(f"{path}: 'x_test' samples are {x_test.shape[1:]}, 'x' samples "
                                f"{x.shape[1:]}; both need the same shape")
        arrays = archive.read_all()
    train = _dataset(path, arrays, "x", "y", f"{path} (train)")
    if "x_test" not in arrays:
        return DataSplits(train, None)
    test = _dataset(path, arrays, "x_test", "y_test", f"{path} (test)")
    return DataSplits(train, test)


def _check_declared(path: Path, archive: NpzReader, x_key: str, y_key: str) -> None:
    """Check the declared dtypes and shapes of ``x_key`` and ``y_key`` before reading them."""
    x = archive.entries[x_key]
    if x.dtype.kind not in "uif" or len(x.shape) < 2:
        raise DataError(f"{path}: {x_key!r} must be a numeric array (n, features...) with at "
                        f"least 2 dimensions, got {x.dtype} {x.shape}")
    y = archive.entries.get(y_key)
    if y is None:
        return
    if y.dtype.kind not in "ui" or len(y.shape) != 1:
        raise DataError(f"{path}: {y_key!r} must be 1-D integer labels, got {y.dtype} {y.shape}")
    if y.shape[0] != x.shape[0]:
        raise DataError(f"{path}: {x_key!r} has {x.shape[0]} samples but {y_key!r} has "
                        f"{y.shape[0]} labels; they must have the same length")


def _dataset(path: Path, arrays: dict[str, npt.NDArray[Any]], x_key: str, y_key: str,
             name: str) -> Dataset:
    """Check the values of ``arrays[x_key]`` (and ``arrays[y_key]`` if present) and wrap them."""
    x = arrays[x_key]
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DataError(f"{path}: {x_key!r} holds NaN or infinite values")
    if y_key not in arrays:
        return Dataset(x, None, name=name)
    y = arrays[y_key]
    if len(y) and y.min() < 0:
        raise DataError(f"{path}: {y_key!r} holds a negative label ({y.min()}); labels are "
                        "class indices 0, 1, ...")
    if y.dtype.kind == "u" and len(y) and y.max() > np.iinfo(np.int64).max:
        raise DataError(f"{path}: {y_key!r} holds a label above {np.iinfo(np.int64).max}; labels "
                        "are class indices 0, 1, ...")
    return Dataset(x, y.astype(np.int64), name=name)
