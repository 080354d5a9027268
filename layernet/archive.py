"""layernet archives: ``.npz`` files read without pickle and written atomically.

Model files and checkpoints are both archives of plain numpy arrays (text as
0-d unicode arrays, JSON as text), so ``np.load(path, allow_pickle=False)``
reads them. Every archive starts with:

* ``format`` — the kind: ``"layernet-model"`` (:data:`MODEL_FORMAT`) or ``"layernet-checkpoint"``;
* ``format_version`` — an integer, :data:`FORMAT_VERSION`;
* ``layernet_version`` — the version that wrote the file.

A model file adds ``config`` (``Sequential.get_config()`` as JSON), optionally
``preprocessing`` (JSON ``{"shift", "scale"}``) and ``weights/<name>`` (one array
per parameter or state array, named as in ``Sequential.get_weights()``).
Checkpoints are described in :mod:`layernet.io.checkpoints`.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ._version import __version__
from .atomic import atomic_write, special_file
from .errors import FileAccessError, LayernetError, ModelFileError

#: The archive layout written by this version; files with a larger version are refused.
FORMAT_VERSION = 1
MODEL_FORMAT = "layernet-model"
WEIGHTS_PREFIX = "weights/"

#: Errors numpy and zipfile raise on damaged archives; all become ModelFileError.
#: (RuntimeError: a damaged flag marks an entry "encrypted"; NotImplementedError: an
#: unknown compression method.)
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, OverflowError,
                RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, struct.error)

Arrays = dict[str, npt.NDArray[Any]]

# -- limits: what a file may declare before anything is allocated ------------------------------
#: Bytes any compressed file (a zip archive, a gzip IDX file) may always inflate to ...
INFLATION_ALLOWANCE = 16 * 2**20
#: ... plus this many times its size on disk. Real data compresses 2-6 times (MNIST
#: about 5) and layernet's own model files and checkpoints are stored uncompressed,
#: so only a damaged or hostile file ("zip bomb") is refused: a 1 MB file may
#: inflate to at most 36 MB, never to gigabytes.
MAX_INFLATION = 20
#: Most members an archive may have.
MAX_ENTRIES = 10_000
#: Longest ``.npy`` header (numpy's own reader refuses longer ones too).
MAX_HEADER_BYTES = 10_000
#: Most dimensions of a stored array.
MAX_DIMENSIONS = 32
#: Longest text entry (model configs, checkpoint state with its history), in characters.
MAX_TEXT_CHARS = 8_000_000
#: Deepest nesting of JSON arrays and objects in a text entry.
MAX_JSON_DEPTH = 100
#: Most digits of an integer in a JSON entry.
MAX_DIGITS = 100
#: The first bytes of a ``.npy`` file.
NPY_MAGIC = b"\x93NUMPY"

_PLAIN_KINDS = "biufcUS"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSERS = np.frombuffer(b"]}", dtype=np.uint8)


def header(kind: str) -> Arrays:
    """The ``format``, ``format_version`` and ``layernet_version`` entries for a ``kind`` file."""
    return {"format": np.array(kind), "format_version": np.array(FORMAT_VERSION),
            "layernet_version": np.array(__version__)}


def prefixed(prefix: str, arrays: Mapping[str, npt.NDArray[Any]]) -> Arrays:
    """``arrays`` with every key prefixed by ``prefix``."""
    return {prefix + key: value for key, value in arrays.items()}


def unprefixed(prefix: str, arrays: Mapping[str, npt.NDArray[Any]]) -> Arrays:
    """The entries of ``arrays`` whose key starts with ``prefix``, with the prefix removed."""
    return {key[len(prefix):]: value for key, value in arrays.items() if key.startswith(prefix)}


def json_array(value: Any) -> npt.NDArray[Any]:
    """``value`` as JSON text in a 0-d unicode array (readable without pickle)."""
    return np.array(json.dumps(value))


def write_archive(path: str | Path, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically.

    The data goes to a new temporary file in the same folder (created with the
    usual permissions, i.e. subject to the umask), is flushed and fsynced, then
    renamed over ``path`` with :func:`os.replace`; on any failure the temporary
    file is removed and an existing ``path`` is left untouched.

    Raises:
        ModelFileError: the file cannot be written (missing folder, no
            permission, disk full).
    """
    try:
        with atomic_write(path) as file:
            entries: dict[str, Any] = dict(arrays)
            np.savez(file, **entries)
    except FileAccessError as error:
        raise ModelFileError(f"{path}: cannot write the file ({error.reason}); {error.hint}") from None


def read_archive(path: str | Path, *, keep: Callable[[str], bool] | None = None) -> Arrays:
    """Every array of the ``.npz`` file ``path`` (those whose key ``keep`` accepts), bounded.

    Sizes are checked before anything is inflated (see :class:`NpzReader`);
    entries ``keep`` rejects are never read.

    Raises:
        ModelFileError: the file is missing, not a zip archive, truncated,
            fails a checksum, declares more data than it can hold, or holds an
            entry that is not a plain numeric or text array.
    """
    with NpzReader(path, keep=keep) as archive:
        return archive.read_all()


def describe_bytes(count: int) -> str:
    """``count`` bytes for people: ``"512 bytes"``, ``"1.5 MiB"``, ``"6.3 TiB"``."""
    if count < 1024:
        return f"{count} byte{'s' if count != 1 else ''}"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024
        if value < 1024 or unit == "PiB":
            break
    return f"{value:.1f} {unit}" if value < 1e6 else f"{value:.3g} {unit}"


def inflation_budget(stored_bytes: int) -> int:
    """The most bytes a compressed file of ``stored_bytes`` may inflate to (see :data:`MAX_INFLATION`)."""
    return INFLATION_ALLOWANCE + MAX_INFLATION * stored_bytes


@dataclass(frozen=True)
class Entry:
    """One array of an archive as its ``.npy`` header declares it (nothing inflated yet).

    Attributes:
        key: the name (the zip member without ``.npy``).
        shape, dtype, fortran_order: as declared.
        nbytes: the data size the header implies (``prod(shape) * itemsize``).
        offset: where the data starts inside the member (after the header).
    """

    key: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool
    nbytes: int
    offset: int
    info: zipfile.ZipInfo

    def describe(self) -> str:
        """``float32[16, 8]``."""
        return f"{self.dtype}{list(self.shape)}"


class NpzReader:
    """An ``.npz`` archive opened for bounded reading: the directory and every ``.npy`` header
    are checked when it is opened; :meth:`read` then inflates one entry at most to its declared size.

    On opening, before any data is inflated:

    * at most :data:`MAX_ENTRIES` members, no duplicate names, each a ``.npy`` array;
    * the sizes the zip directory declares for the kept entries add up to at most
      :func:`inflation_budget` of the file's size (a small file cannot inflate to gigabytes);
    * each kept entry's ``.npy`` header (at most :data:`MAX_HEADER_BYTES`) declares a plain
      dtype (numbers, booleans or text; no objects/pickles, no records) and a shape whose
      byte count equals the member's declared size exactly.

    :meth:`read` then reads exactly that many bytes (the zip CRC is checked at the end),
    so neither a lying header nor a lying directory can make it allocate more.

    Args:
        path: the archive.
        keep: which keys to consider (others are skipped, never inflated); all by default.
        error: the :class:`LayernetError` class to raise (:class:`ModelFileError` or ``DataError``).
        kind: what the file should be, for messages.

    Attributes:
        entries: the kept entries by key, in archive order.
        members: every member of the zip directory (kept or not).
    """

    def __init__(self, path: str | Path, *, keep: Callable[[str], bool] | None = None,
                 error: type[LayernetError] = ModelFileError, kind: str = "layernet .npz file") -> None:
        self.path = path
        self.error = error
        self.kind = kind
        self.entries: dict[str, Entry] = {}
        self.members: list[zipfile.ZipInfo] = []
        self.size = 0
        if not isinstance(path, (str, os.PathLike)):
            raise self.fail(f"expected a file path, got {type(path).__name__}")
        self._zip = self._open(Path(path))
        try:
            self._check_directory(keep)
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._zip.close()

    def fail(self, message: str) -> LayernetError:
        """An error of this reader's class about the file: ``"<path>: <message>"``."""
        return self.error(f"{self.path}: {message}")

    def _open(self, path: Path) -> zipfile.ZipFile:
        if path.is_dir():
            raise self.fail("is a directory, expected an .npz file")
        special = special_file(path)
        if special is not None:
            raise self.fail(f"is {special}, expected an .npz file")
        if not path.is_file():
            raise self.fail("no such file")
        try:
            self.size = path.stat().st_size
            with open(path, "rb") as handle:
                start = handle.read(len(NPY_MAGIC))
            if start == NPY_MAGIC:
                raise self.fail("a single .npy array, expected an .npz archive (save with np.savez)")
            return zipfile.ZipFile(path)
        except LayernetError:
            raise
        except _READ_ERRORS as error:
            raise self.fail(f"not a readable {self.kind} ({_reason(error)})") from None

    def _check_directory(self, keep: Callable[[str], bool] | None) -> None:
        infos = self._zip.infolist()
        self.members = infos
        if len(infos) > MAX_ENTRIES:
            raise self.fail(f"the archive has {len(infos)} members, more than {MAX_ENTRIES}; "
                            "the file is damaged or not an array archive")
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            twice = next(name for name in names if names.count(name) > 1)
            raise self.fail(f"the archive holds the member {twice!r} twice; the file is damaged")
        kept = []
        for info in infos:
            if not info.filename.endswith(".npy") or info.is_dir():
                raise self.fail(f"the member {info.filename!r} is not a .npy array; an .npz "
                                "archive holds only arrays (save with np.savez)")
            key = info.filename[:-len(".npy")]
            if keep is None or keep(key):
                kept.append((key, info))
        declared = sum(info.file_size for _, info in kept)
        budget = inflation_budget(self.size)
        if declared > budget:
            biggest = max(kept, key=lambda item: item[1].file_size)
            raise self.fail(f"the archive declares {describe_bytes(declared)} of arrays (entry "
                            f"{biggest[0]!r}: {describe_bytes(biggest[1].file_size)}) in a file of "
                            f"{describe_bytes(self.size)}; refusing to inflate more than "
                            f"{describe_bytes(budget)} (the file is damaged or hostile; store large "
                            "arrays uncompressed with np.savez)")
        for key, info in kept:
            self.entries[key] = self._parse_header(key, info)

    def _parse_header(self, key: str, info: zipfile.ZipInfo) -> Entry:
        """Read and check one member's ``.npy`` header without inflating its data."""
        try:
            with self._zip.open(info) as member:
                prefix = _read_up_to(member, len(NPY_MAGIC) + 2)
                if len(prefix) < len(NPY_MAGIC) + 2 or prefix[:len(NPY_MAGIC)] != NPY_MAGIC:
                    raise self.fail(f"entry {key!r} is not a .npy array (no NUMPY header)")
                version = (prefix[-2], prefix[-1])
                if version not in ((1, 0), (2, 0)):
                    raise self.fail(f"entry {key!r} has .npy format version {version}, expected 1.0 or 2.0")
                length_format = "<H" if version == (1, 0) else "<I"
                length_bytes = _read_up_to(member, struct.calcsize(length_format))
                if len(length_bytes) < struct.calcsize(length_format):
                    raise self.fail(f"entry {key!r} is truncated inside its .npy header")
                length = struct.unpack(length_format, length_bytes)[0]
                if length > MAX_HEADER_BYTES:
                    raise self.fail(f"entry {key!r} has a .npy header of {length} bytes, more than "
                                    f"{MAX_HEADER_BYTES}; the file is damaged")
                text = _read_up_to(member, length)
                if len(text) < length:
                    raise self.fail(f"entry {key!r} is truncated inside its .npy header")
        except LayernetError:
            raise
        except _READ_ERRORS as error:
            raise self.fail(f"entry {key!r} is damaged ({_reason(error)})") from None
        stream = io.BytesIO(prefix + length_bytes + text)
        np.lib.format.read_magic(stream)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        except Exception as error:  # noqa: BLE001 - numpy's parser of these <= 10 kB can raise
            # ValueError, SyntaxError, tokenize.TokenError, RecursionError, ...: all mean "malformed"
            raise self.fail(f"entry {key!r} has a malformed .npy header ({_reason(error)})") from None
        return self._checked(key, info, tuple(shape), bool(fortran), dtype, stream.tell())

    def _checked(self, key: str, info: zipfile.ZipInfo, shape: tuple[Any, ...], fortran: bool,
                 dtype: np.dtype[Any], offset: int) -> Entry:
        if dtype.hasobject:
            raise self.fail(f"array {key!r} holds pickled Python objects, which layernet does not "
                            "load; save plain numeric arrays")
        if dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in _PLAIN_KINDS:
            raise self.fail(f"array {key!r} has dtype {dtype}; layernet reads plain numbers, "
                            "booleans and text only")
        if len(shape) > MAX_DIMENSIONS or any(not isinstance(d, int) or d < 0 for d in shape):
            raise self.fail(f"array {key!r} declares an invalid shape {_shape_text(shape)}")
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes != info.file_size:
            raise self.fail(f"array {key!r} declares shape {_shape_text(shape)} {dtype} = "
                            f"{describe_bytes(nbytes)}, but its member holds "
                            f"{describe_bytes(max(info.file_size - offset, 0))} of data; the file "
                            "is damaged")
        return Entry(key, shape, dtype, fortran, nbytes, offset, info)

    def read(self, key: str) -> npt.NDArray[Any]:
        """The array ``key``, inflated to exactly its declared size (CRC checked)."""
        entry = self.entries[key]
        count = math.prod(entry.shape)
        flat = np.empty(count, dtype=entry.dtype)
        try:
            with self._zip.open(entry.info) as member:
                _read_up_to(member, entry.offset)
                got = 0
                if entry.nbytes:
                    data = flat.view(np.uint8)
                    while got < entry.nbytes and (part := member.read(min(entry.nbytes - got, 1 << 22))):
                        data[got:got + len(part)] = np.frombuffer(part, dtype=np.uint8)
                        got += len(part)
                if got < entry.nbytes:
                    raise self.fail(f"array {key!r} is truncated: {describe_bytes(got)} of "
                                    f"{describe_bytes(entry.nbytes)}")
                if member.read(1):
                    raise self.fail(f"array {key!r} has data beyond its declared shape")
        except LayernetError:
            raise
        except _READ_ERRORS as error:
            raise self.fail(f"array {key!r} is damaged ({_reason(error)}); restore the file "
                            "from a backup or write it again") from None
        if entry.dtype.kind == "U" and flat.size and flat.dtype.itemsize:
            codes = flat.view(np.dtype(np.uint32).newbyteorder(entry.dtype.byteorder))
            if codes.max() > 0x10FFFF:  # not a character: str() of it would fail
                raise self.fail(f"array {key!r} holds text that is not valid Unicode; the file is damaged")
        if entry.fortran_order:
            return flat.reshape(entry.shape[::-1]).transpose()
        return flat.reshape(entry.shape)

    def read_all(self) -> Arrays:
        """Every kept entry, by key."""
        return {key: self.read(key) for key in self.entries}


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes of ``stream`` (fewer only at its end)."""
    parts = []
    while size > 0 and (part := stream.read(min(size, 1 << 20))):
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no details"
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(error).__name__}: {text}"


def _shape_text(shape: tuple[Any, ...]) -> str:
    shown = "(" + ", ".join(str(d) if not isinstance(d, int) or abs(d) < 10**15 else
                            f"{d:.3g}" for d in shape[:8]) + (", ..." if len(shape) > 8 else "") + ")"
    return shown


def text_entry(arrays: Arrays, key: str, path: str | Path) -> str:
    """The text stored under ``key``; :class:`ModelFileError` if absent or not text."""
    value = arrays.get(key)
    if value is None:
        raise ModelFileError(f"{path}: the entry {key!r} is missing")
    if value.shape != () or value.dtype.kind != "U":
        raise ModelFileError(f"{path}: the entry {key!r} should be text, "
                             f"got {value.dtype}{list(value.shape)}")
    if value.dtype.itemsize // 4 > MAX_TEXT_CHARS:
        raise ModelFileError(f"{path}: the entry {key!r} holds {value.dtype.itemsize // 4} "
                             f"characters, more than {MAX_TEXT_CHARS}; the file is damaged")
    return str(value)


def json_entry(arrays: Arrays, key: str, path: str | Path) -> Any:
    """The JSON value stored as text under ``key``; :class:`ModelFileError` if it does not parse,
    is nested deeper than :data:`MAX_JSON_DEPTH` or holds a number of more than :data:`MAX_DIGITS` digits."""
    text = text_entry(arrays, key, path)
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: the entry {key!r} is JSON nested {depth} levels deep, more "
                             f"than {MAX_JSON_DEPTH}; the file is damaged")
    try:
        return json.loads(text, parse_int=_parse_int)
    except (ValueError, RecursionError) as error:
        raise ModelFileError(f"{path}: the entry {key!r} is not valid JSON "
                             f"({' '.join(str(error).split())[:200]})") from None


def json_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON ``text`` (brackets inside strings ignored)."""
    if not any(bracket in text for bracket in "[{"):
        return 0
    outside = _JSON_STRING.sub('""', text)
    codes = np.frombuffer(outside.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    steps = (np.isin(codes, _OPENERS).astype(np.int64) - np.isin(codes, _CLOSERS).astype(np.int64))
    return int(np.cumsum(steps).max(initial=0))


def json_file(path: str | Path) -> Any:
    """The JSON value in the text file ``path`` (such as a run's ``metrics.json``), bounded like
    a JSON entry: a regular file of at most :data:`MAX_TEXT_CHARS` bytes, nested at most
    :data:`MAX_JSON_DEPTH` levels, numbers of at most :data:`MAX_DIGITS` digits.

    Raises:
        ValueError: the file is not a regular file, too large, too deep or not valid JSON.
        OSError: the file cannot be read.
    """
    special = special_file(path)
    if special is not None:
        raise ValueError(f"{path}: is {special}, not a JSON file")
    with open(path, "rb") as handle:
        data = handle.read(MAX_TEXT_CHARS + 1)
    if len(data) > MAX_TEXT_CHARS:
        raise ValueError(f"{path}: more than {MAX_TEXT_CHARS} bytes")
    text = data.decode("utf-8")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep")
    return json.loads(text, parse_int=_parse_int)


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits, more than {MAX_DIGITS}")
    return int(text)


def int_entry(arrays: Arrays, key: str, path: str | Path) -> int:
    """The integer stored as a 0-d array under ``key``; :class:`ModelFileError` otherwise."""
    value = arrays.get(key)
    if value is None or value.shape != () or value.dtype.kind not in "iu":
        raise ModelFileError(f"{path}: the entry {key!r} should be an integer")
    return int(value)


def check_format(arrays: Arrays, path: str | Path, kind: str) -> None:
    """Check that ``arrays`` is a ``kind`` file this version of layernet can read.

    Raises:
        ModelFileError: the ``format`` entry is missing or another kind (e.g. a
            checkpoint given where a model is expected), or the version is newer.
    """
    if "format" not in arrays:
        raise ModelFileError(f"{path}: not a layernet file (no 'format' entry); expected a {kind} file")
    found = text_entry(arrays, "format", path)
    if found != kind:
        raise ModelFileError(f"{path}: this is a {found} file, expected a {kind} file (models are "
                             f"a run's model.npz or save_model output; checkpoints are in a run's "
                             f"checkpoints/ folder, for resuming)")
    version = int_entry(arrays, "format_version", path)
    if version > FORMAT_VERSION:
        writer = arrays.get("layernet_version", "a newer layernet")
        raise ModelFileError(f"{path}: {kind} format version {version} (written by layernet "
                             f"{writer}) is newer than this layernet reads ({FORMAT_VERSION}); "
                             f"upgrade layernet")
