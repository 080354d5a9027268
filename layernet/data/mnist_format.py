"""MNIST-format directories: ``train-*`` and ``t10k-*`` IDX image and label files.

Any dataset in this layout loads the same way (MNIST, Fashion-MNIST, KMNIST):

    train-images-idx3-ubyte[.gz]   (n, rows, cols) uint8
    train-labels-idx1-ubyte[.gz]   (n,) uint8
    t10k-images-idx3-ubyte[.gz]    (m, rows, cols) uint8   optional, with its labels
    t10k-labels-idx1-ubyte[.gz]    (m,) uint8
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..atomic import special_file
from ..errors import DataError
from .dataset import DataSplits, Dataset
from .idx import IDX_DTYPES, IMAGES_MAGIC, LABELS_MAGIC, describe_magic, read_idx, read_idx_header

#: The four file names of an MNIST-format directory, without ``.gz``.
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def find_idx_file(directory: Path, stem: str) -> Path | None:
    """``directory/stem`` or ``stem.gz`` (or spelt ``train-images.idx3-ubyte``); None if absent."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        special = special_file(directory / name)
        if special is not None:
            raise DataError(f"{directory / name}: is {special}, expected an IDX file")
        if (directory / name).is_file():
            return directory / name
    return None


def read_idx_images(path: Path) -> npt.NDArray[np.uint8]:
    """Read an IDX images file: ``(n, rows, cols)`` uint8, magic ``0x00000803``."""
    return _read_checked(path, IMAGES_MAGIC, "images (n, rows, cols)")


def read_idx_labels(path: Path) -> npt.NDArray[np.int64]:
    """Read an IDX labels file as ``(n,)`` int64 (stored uint8, magic ``0x00000801``)."""
    return _read_checked(path, LABELS_MAGIC, "labels (n,)").astype(np.int64)


def _check_header(path: Path, magic: int, what: str) -> tuple[int, ...]:
    """Check the magic number from the header alone (nothing allocated); return the shape."""
    dtype, shape = read_idx_header(path)
    found = f"0x0000{_code_of(dtype):02X}{len(shape):02X}"
    if found != f"0x{magic:08X}":
        raise DataError(f"{path}: expected uint8 {what} with magic 0x{magic:08X}, found magic "
                        f"{found} ({dtype.newbyteorder('=')}, shape {shape})")
    return shape


def _code_of(dtype: np.dtype[Any]) -> int:
    return next(code for code, stored in IDX_DTYPES.items() if stored == dtype)


def _read_checked(path: Path, magic: int, what: str) -> npt.NDArray[Any]:
    _check_header(path, magic, what)
    array = read_idx(path)
    found = describe_magic(array)
    if found != f"0x{magic:08X}":  # the file changed since its header was read
        raise DataError(f"{path}: expected uint8 {what} with magic 0x{magic:08X}, found magic "
                        f"{found} ({array.dtype}, shape {array.shape})")
    return array


def load_mnist_split(images: Path, labels: Path, name: str) -> Dataset:
    """One labelled split from an images file and a labels file with the same count
    (the headers are compared before either file's data is read)."""
    image_shape = _check_header(images, IMAGES_MAGIC, "images (n, rows, cols)")
    label_shape = _check_header(labels, LABELS_MAGIC, "labels (n,)")
    if image_shape[0] != label_shape[0]:
        raise DataError(f"{images.parent}: {images.name} holds {image_shape[0]} images but "
                        f"{labels.name} holds {label_shape[0]} labels; the files must come from "
                        "the same set")
    x = read_idx_images(images)
    y = read_idx_labels(labels)
    if len(x) != len(y):
        raise DataError(f"{images.parent}: {images.name} holds {len(x)} images but {labels.name} "
                        f"holds {len(y)} labels; the files must come from the same set")
    return Dataset(x, y, name=name)


def load_mnist_dir(directory: str | Path) -> DataSplits:
    """Load an MNIST-format directory into training and (if present) test datasets.

    Returns:
        ``DataSplits`` with ``train`` ``(n, rows, cols)`` uint8 and labels
        ``(n,)`` int64, and ``test`` likewise from the ``t10k`` files (None
        when the directory has no ``t10k`` files).

    Raises:
        DataError: a file is missing, malformed, or counts of images and labels differ.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such directory (expected MNIST-format IDX files)")
    paths = [find_idx_file(directory, stem) for stem in MNIST_FILES]
    train_images, train_labels, test_images, test_labels = paths
    if train_images is None or train_labels is None:
        raise DataError(_missing(directory, paths))
    train = load_mnist_split(train_images, train_labels, f"{directory} (train)")
    if test_images is None and test_labels is None:
        return DataSplits(train, None)
    if test_images is None or test_labels is None:
        raise DataError(_missing(directory, paths))
    test = load_mnist_split(test_images, test_labels, f"{directory} (test)")
    if test.sample_shape != train.sample_shape:
        raise DataError(f"{directory}: test images are {test.sample_shape}, training images "
                        f"{train.sample_shape}; both splits need the same image size")
    return DataSplits(train, test)


def _missing(directory: Path, paths: list[Path | None]) -> str:
    missing = [stem for stem, path in zip(MNIST_FILES, paths, strict=True) if path is None]
    return (f"{directory}: missing {', '.join(f'{stem}[.gz]' for stem in missing)}; an "
            f"MNIST-format directory holds {', '.join(MNIST_FILES)} (each optionally .gz; "
            "the t10k pair may be left out)")
