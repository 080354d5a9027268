"""IDX files (the MNIST format): a checked reader and a writer.

An IDX file is a 4-byte magic number ``0x0000TTNN`` (``TT`` the element type,
``NN`` the number of dimensions), ``NN`` big-endian uint32 dimension sizes,
then the elements in C order, big-endian. MNIST images are ``0x00000803``
(uint8, 3-D: count × rows × columns) and labels ``0x00000801`` (uint8, 1-D).
Files may be gzip-compressed; compression is detected from the content, not the name.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..archive import describe_bytes, inflation_budget
from ..atomic import atomic_write
from ..errors import DataError
from ._files import GZIP_ERRORS, open_maybe_gzip

#: IDX type code -> element dtype (big-endian as stored).
IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: Magic numbers of MNIST image and label files.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


#: Most elements an IDX file may declare (MNIST's training images are 47 million).
MAX_ELEMENTS = 1 << 31
#: Most dimensions an IDX file may declare.
MAX_DIMENSIONS = 32


def read_idx(path: str | Path) -> npt.NDArray[Any]:
    """Read an IDX file (raw or gzip) into a native-endian array of the stored shape.

    The header is checked before anything is allocated: at most
    :data:`MAX_ELEMENTS` elements; a raw file must be exactly as long as the
    header says; a gzip file may declare at most
    :func:`layernet.archive.inflation_budget` of its size and is inflated only
    up to the declared size (a small hostile file cannot expand to gigabytes).

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        The array, shape ``(d0, d1, ...)`` as the header says, e.g.
        ``(60000, 28, 28)`` uint8 for MNIST training images.

    Raises:
        DataError: naming the file, if it is missing, not IDX (wrong magic),
            truncated, longer than the header says, too large, or corrupt gzip.
    """
    path = Path(path)
    with open_maybe_gzip(path) as stream:
        try:
            dtype, shape = _read_header(stream, path)
            _check_size(stream, path, dtype, shape)
            return _read_body(stream, path, dtype, shape)
        except GZIP_ERRORS as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data: {exc}") from None


def read_idx_header(path: str | Path) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """The element dtype and shape an IDX file's header declares, checked as :func:`read_idx`
    checks them, without reading the data."""
    path = Path(path)
    with open_maybe_gzip(path) as stream:
        try:
            dtype, shape = _read_header(stream, path)
            _check_size(stream, path, dtype, shape)
        except GZIP_ERRORS as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data: {exc}") from None
    return dtype, shape


def _check_size(stream: io.BufferedIOBase, path: Path, dtype: np.dtype[Any],
                shape: tuple[int, ...]) -> None:
    """Check the declared size against :data:`MAX_ELEMENTS` and the file's real size."""
    dims = "×".join(str(s) for s in shape)
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if count > MAX_ELEMENTS:
        raise DataError(f"{path}: header says {dims} = {count:,} elements, too large to load "
                        f"(more than {MAX_ELEMENTS:,}); the header is probably corrupt")
    stored = path.stat().st_size
    if isinstance(stream, gzip.GzipFile):
        budget = inflation_budget(stored)
        if nbytes > budget:
            raise DataError(f"{path}: header says {dims} = {describe_bytes(nbytes)} of data, but "
                            f"a gzip file of {describe_bytes(stored)} may inflate to at most "
                            f"{describe_bytes(budget)}; the file is damaged or hostile")
        return
    available = stored - (4 + 4 * len(shape))
    if available < nbytes:
        raise DataError(f"{path}: truncated: header says {dims} = {nbytes} bytes of data, "
                        f"file has {available}")
    if available > nbytes:
        raise DataError(f"{path}: trailing data: header says {dims} = {nbytes} bytes of data, "
                        f"file has {available - nbytes} more")


def _read_exactly(stream: io.BufferedIOBase, size: int) -> bytes:
    """Up to ``size`` bytes from ``stream`` (fewer only at the end of the data)."""
    parts = []
    while size > 0 and (part := stream.read(size)):
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _read_header(stream: io.BufferedIOBase, path: Path) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """Parse and check the magic number and dimension sizes; return (dtype, shape)."""
    magic = _read_exactly(stream, 4)
    if len(magic) < 4:
        raise DataError(f"{path}: not an IDX file: only {len(magic)} bytes, the header needs 4")
    zeros, code, ndim = magic[:2], magic[2], magic[3]
    if zeros != b"\0\0" or code not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file: magic number 0x{magic.hex()}, expected "
                        f"0x0000TTNN with type TT in {_type_codes()} (MNIST images: 0x00000803)")
    if ndim == 0 or ndim > MAX_DIMENSIONS:
        raise DataError(f"{path}: IDX header has {ndim} dimensions (magic 0x{magic.hex()}); "
                        f"layernet reads 1 to {MAX_DIMENSIONS}")
    sizes = _read_exactly(stream, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(f"{path}: truncated header: {ndim} dimension sizes need {4 * ndim} bytes, "
                        f"file has {len(sizes)}")
    return IDX_DTYPES[code], struct.unpack(f">{ndim}I", sizes)


def _read_body(stream: io.BufferedIOBase, path: Path, dtype: np.dtype[Any],
               shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """Read exactly ``prod(shape)`` elements and check nothing follows them."""
    dims = "×".join(str(s) for s in shape)
    try:
        out = np.empty(shape, dtype=dtype)
    except (MemoryError, ValueError):
        raise DataError(f"{path}: header says {dims} elements of {dtype.itemsize} bytes, too "
                        "large to load; the header is probably corrupt") from None
    view = out.reshape(-1).view(np.uint8).data
    got = 0
    while got < out.nbytes and (n := stream.readinto(view[got:])):
        got += n
    if got < out.nbytes:
        raise DataError(f"{path}: truncated: header says {dims} = {out.nbytes} bytes of data, "
                        f"file has {got}")
    extra = len(stream.read(1 << 16))
    if extra:
        raise DataError(f"{path}: trailing data: header says {dims} = {out.nbytes} bytes of data, "
                        f"file has {'at least ' if extra == 1 << 16 else ''}{extra} more")
    return out.astype(dtype.newbyteorder("="), copy=False)


def _type_codes() -> str:
    return ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)


def write_idx(path: str | Path, array: npt.ArrayLike, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically.

    Args:
        path: the destination.
        array: any shape with at least one dimension; dtype uint8, int8,
            int16, int32, float32 or float64.
        compress: gzip the file; by default when ``path`` ends in ``.gz``.
            The gzip header carries no name or time, so equal arrays give
            byte-identical files.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    data = np.asarray(array)
    code = _type_code(data.dtype)
    if data.ndim == 0 or data.ndim > 255:
        raise DataError(f"{path}: IDX needs 1 to 255 dimensions, got shape {data.shape}")
    header = bytes([0, 0, code, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape)
    body = np.ascontiguousarray(data, dtype=IDX_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as out:
        if compress:
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as zipped:
                zipped.write(header)
                zipped.write(body)
        else:
            out.write(header)
            out.write(body)
    return path


def _type_code(dtype: np.dtype[Any]) -> int:
    """The IDX type code for ``dtype`` (any byte order)."""
    for code, stored in IDX_DTYPES.items():
        if stored.newbyteorder("=") == dtype.newbyteorder("="):
            return code
    raise DataError(f"IDX cannot store dtype {dtype}; use uint8, int8, int16, int32, float32 "
                    "or float64")


def describe_magic(array: npt.NDArray[Any]) -> str:
    """The magic number an array would have in an IDX file, e.g. ``0x00000803``."""
    return f"0x0000{_type_code(array.dtype):02X}{array.ndim:02X}"

