"""Model files: one ``.npz`` archive per model, read without pickle and written atomically.

A model file holds these entries (all plain numpy arrays, so
``np.load(path, allow_pickle=False)`` reads it):

* ``format`` — the text ``"layernet-model"``;
* ``format_version`` — an integer, :data:`FORMAT_VERSION`;
* ``layernet_version`` — the version that wrote the file;
* ``config`` — the architecture, ``Sequential.get_config()`` as JSON text;
* ``weights/<name>`` — one array per parameter, named as in
  ``Sequential.get_weights()`` (``weights/layers.0.weight``).

Text is stored as 0-d unicode arrays. Checkpoints
(:mod:`layernet.training.checkpoint`) use the same archive helpers:
:func:`write_archive`, :func:`read_archive`, :func:`check_format`,
:func:`text_entry` and :func:`json_entry`.
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

from .atomic import atomic_write
from .errors import ModelFileError, ShapeError
from .model import Sequential
from .registry import UnknownNameError

#: The model file layout written by this version; files with a larger version are refused.
FORMAT_VERSION = 1
MODEL_FORMAT = "layernet-model"
WEIGHTS_PREFIX = "weights/"

#: Errors numpy and zipfile raise on damaged archives; all become ModelFileError.
#: (RuntimeError: a damaged flag marks an entry "encrypted"; NotImplementedError: an
#: unknown compression method.)
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, OverflowError,
                RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, struct.error)

Arrays = dict[str, npt.NDArray[Any]]


def save_model(model: Sequential, path: str | Path, *,
               preprocessing: Mapping[str, float] | None = None) -> None:
    """Write ``model``'s architecture and weights to the ``.npz`` file ``path``, atomically.

    The file is complete or absent: it is written to a temporary file in the
    same folder, flushed to disk and renamed over ``path``.

    Args:
        model: a built model.
        path: the file to write.
        preprocessing: how inputs were normalised in training, ``{"shift": s,
            "scale": c}`` for ``(x − s) · c``; read back by :func:`load_preprocessing`
            so the model file alone can classify new raw images.

    Raises:
        ModelFileError: the model is not built yet (it has no weights), or a
            layer is not registered (its config could not be read back).
    """
    if not model.built:
        raise ModelFileError(f"{path}: cannot save an unbuilt model; build it with "
                             f"model.build(input_shape) or train it first")
    extra = {} if preprocessing is None else {"preprocessing": json_array(dict(preprocessing))}
    write_archive(path, {**header(MODEL_FORMAT), "config": json_array(model_config(model, path)),
                         **extra, **prefixed(WEIGHTS_PREFIX, model.get_weights())})


def load_model(path: str | Path) -> Sequential:
    """Read a model written by :func:`save_model`; returns a built :class:`Sequential`.

    Raises:
        ModelFileError: the file is missing, truncated, corrupt, not a layernet
            model, from a newer layernet, names an unregistered layer, or its
            weights do not fit its architecture. The message names the file.
    """
    arrays = read_archive(path)
    check_format(arrays, path, MODEL_FORMAT)
    model = model_from_config(json_entry(arrays, "config", path), path)
    weights = unprefixed(WEIGHTS_PREFIX, arrays)
    wrong = weight_mismatches(model, weights, "file")
    if wrong:
        raise ModelFileError(f"{path}: the stored weights do not fit the stored model "
                             f"{describe(model)}: {listing(wrong)}")
    model.set_weights(weights)
    return model


def load_preprocessing(path: str | Path) -> dict[str, float] | None:
    """The ``preprocessing`` stored by :func:`save_model` (``{"shift", "scale"}``), or None.

    Raises:
        ModelFileError: the file is not a readable model file, or the entry is malformed.
    """
    arrays = read_archive(path)
    check_format(arrays, path, MODEL_FORMAT)
    if "preprocessing" not in arrays:
        return None
    stored = json_entry(arrays, "preprocessing", path)
    try:
        return {key: float(stored[key]) for key in ("shift", "scale")}
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: the stored preprocessing is invalid ({error!r})") from None


# -- pieces shared with checkpoints --------------------------------------------------
def header(kind: str) -> Arrays:
    """The ``format``, ``format_version`` and ``layernet_version`` entries for a ``kind`` file."""
    from . import __version__  # at call time: layernet/__init__ may import this module

    return {"format": np.array(kind), "format_version": np.array(FORMAT_VERSION),
            "layernet_version": np.array(__version__)}


def model_config(model: Sequential, path: str | Path) -> dict[str, Any]:
    """``model.get_config()``; an unregistered layer becomes a :class:`ModelFileError`."""
    try:
        return model.get_config()
    except UnknownNameError as error:
        raise ModelFileError(f"{path}: cannot save {error.kind} {error.name!r}: it is not "
                             f"registered ({error.hint})") from None


def model_from_config(config: Any, path: str | Path) -> Sequential:
    """Rebuild a model from a stored config, turning every failure into :class:`ModelFileError`."""
    try:
        if not isinstance(config, dict) or "input_shape" not in config:
            raise ValueError("it is not a mapping with 'layers' and 'input_shape'")
        return Sequential.from_config(config)
    except UnknownNameError as error:
        raise ModelFileError(
            f"{path}: the model uses {error.kind} {error.name!r}, which is not registered; import "
            f"the module that defines it before loading ({error.hint})") from None
    except (KeyError, TypeError, ValueError, AttributeError, ShapeError, OverflowError,
            MemoryError) as error:
        raise ModelFileError(f"{path}: the stored model config is invalid: {error}") from None


def describe(model: Sequential) -> str:
    """The model's sizes as ``"784-32-10"``: input size, then each parametrised layer's output size."""
    sizes = [int(np.prod(model.input_shape or ()))]
    sizes += [int(np.prod(layer.output_shape)) for layer in model.layers if layer.parameters()]
    return "-".join(map(str, sizes))


def weight_mismatches(model: Sequential, weights: Arrays, what: str) -> list[str]:
    """One line per parameter whose name, shape or dtype in ``weights`` differs from ``model``'s
    (``what`` names the file kind in the lines); empty when they fit."""
    expected = {name: (p.shape, p.value.dtype) for name, p in model.named_parameters().items()}
    found = {name: (tuple(a.shape), a.dtype) for name, a in weights.items()}
    return [f"{name}: {_spec(found.get(name))} in the {what}, {_spec(expected.get(name))} in the model"
            for name in sorted(expected.keys() | found.keys()) if expected.get(name) != found.get(name)]


def listing(lines: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``lines`` joined with ``"; "``, then how many more there are."""
    more = f"; and {len(lines) - shown} more" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


def _spec(spec: tuple[tuple[int, ...], np.dtype[Any]] | None) -> str:
    return "absent" if spec is None else f"{spec[1]}{list(spec[0])}"


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
