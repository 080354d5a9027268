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

import json
import struct
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._version import __version__
from .atomic import atomic_write
from .errors import ModelFileError

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
    except OSError as error:
        raise ModelFileError(f"{path}: cannot write the file ({error}); check the folder "
                             f"exists and is writable") from error


def read_archive(path: str | Path) -> Arrays:
    """Every array of the ``.npz`` file ``path``, after checking each entry's CRC.

    Raises:
        ModelFileError: the file is missing, not a zip archive, truncated,
            fails a checksum, or holds an entry numpy cannot read without pickle.
    """
    if not Path(path).is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
        if damaged is not None:
            raise ModelFileError(f"{path}: the file is corrupt (entry {damaged!r} fails its "
                                 f"checksum); restore it from a backup or save it again")
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except _READ_ERRORS as error:
        raise ModelFileError(f"{path}: not a readable layernet .npz file "
                             f"({type(error).__name__}: {error})") from None


def text_entry(arrays: Arrays, key: str, path: str | Path) -> str:
    """The text stored under ``key``; :class:`ModelFileError` if absent or not text."""
    value = arrays.get(key)
    if value is None:
        raise ModelFileError(f"{path}: the entry {key!r} is missing")
    if value.shape != () or value.dtype.kind != "U":
        raise ModelFileError(f"{path}: the entry {key!r} should be text, "
                             f"got {value.dtype}{list(value.shape)}")
    return str(value)


def json_entry(arrays: Arrays, key: str, path: str | Path) -> Any:
    """The JSON value stored as text under ``key``; :class:`ModelFileError` if it does not parse."""
    text = text_entry(arrays, key, path)
    try:
        return json.loads(text)
    except ValueError as error:
        raise ModelFileError(f"{path}: the entry {key!r} is not valid JSON ({error})") from None


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
