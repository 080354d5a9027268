"""Model files: ``load_model`` reads what ``Sequential.save`` writes (layout in :mod:`layernet.archive`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import checks
from ..archive import MODEL_FORMAT, WEIGHTS_PREFIX, Arrays, NpzReader, check_format, describe_bytes, json_entry
from ..errors import LayernetError, ModelFileError, ModelSizeError, UnknownNameError
from ..model import Sequential
from ..parameter import ParameterBudget, default_budget


def save_model(model: Sequential, path: str | Path, *,
               preprocessing: Mapping[str, float] | None = None) -> None:
    """Write ``model`` to the model file ``path`` atomically; the same as ``model.save(path, ...)``."""
    model.save(path, preprocessing=None if preprocessing is None else dict(preprocessing))


#: The entries of a model file that :func:`load_model` reads; any other entry is skipped unread.
MODEL_ENTRIES = ("format", "format_version", "layernet_version", "config", "preprocessing", "plugins")


def _model_entry(key: str) -> bool:
    return key in MODEL_ENTRIES or key.startswith(WEIGHTS_PREFIX)


def load_model(path: str | Path) -> Sequential:
    """Read a model file written by :meth:`Sequential.save`; returns a built :class:`Sequential`.

    The stored architecture is built within the bytes of weights the file declares (see
    :func:`model_for_weights`: a config larger than its weights is refused before anything
    is allocated), every array's declared shape and dtype is compared with it before any
    weight is inflated, and the weights must then be finite.

    Raises:
        ModelFileError: the file is missing, truncated, corrupt, not a layernet
            model, from a newer layernet, names an unregistered layer, or its
            weights do not fit its architecture or are not finite. The message
            names the file and the entry.
    """
    with NpzReader(path, keep=_model_entry) as archive:
        arrays = _read_small_entries(archive)
        check_format(arrays, path, MODEL_FORMAT)
        model = model_for_weights(json_entry(arrays, "config", path), archive, WEIGHTS_PREFIX, "file",
                                  _plugins(arrays, path))
        if "preprocessing" in arrays:
            _preprocessing(arrays, path)
        weights = read_weights(archive, model, WEIGHTS_PREFIX, "file")
    model.set_weights(weights)
    return model


def _read_small_entries(archive: NpzReader) -> Arrays:
    return {key: archive.read(key) for key in MODEL_ENTRIES if key in archive.entries}


#: How many bytes a stored config may need beyond the weights stored with it and still be
#: built (as zeros), so that a small difference (an entry missing) is reported entry by entry.
CONFIG_SLACK = 4 * 2**20


def model_for_weights(config: Any, archive: NpzReader, prefix: str, what: str,
                      plugins: list[str] | None = None) -> Sequential:
    """The model a stored ``config`` describes, built only as far as the weights ``archive``
    declares under ``prefix`` reach: every parameter is claimed from a
    :class:`~layernet.parameter.ParameterBudget` of exactly those bytes before it is allocated,
    and created as zeros (the stored weights replace them); :data:`CONFIG_SLACK` more is
    allowed so that small differences are named entry by entry. Then every name, shape and dtype
    is compared with the ``.npy`` headers (``what``: ``"file"`` or ``"checkpoint"``, for messages;
    ``plugins``: the modules the file says its own layers came from, named if one is missing).

    Raises:
        ModelSizeError: the stored weights alone exceed the default parameter budget.
        ModelFileError: the config is invalid, needs more bytes than the stored weights
            (a damaged or hostile file), or its weights are named or shaped otherwise.
    """
    stored = sum(entry.nbytes for key, entry in archive.entries.items() if key.startswith(prefix))
    memory = default_budget()
    if stored > memory.limit:
        raise ModelSizeError(f"{archive.path}: the {what} holds {describe_bytes(stored)} of weights, "
                             f"more than {memory.reason}")
    reason = f"the {describe_bytes(stored)} of weights the {what} holds plus {describe_bytes(CONFIG_SLACK)}"
    try:
        with ParameterBudget(stored + CONFIG_SLACK, reason, initialize=False):
            model = model_from_config(config, archive.path, plugins)
    except ModelSizeError as error:
        raise ModelFileError(f"{archive.path}: the stored model config is larger than the stored "
                             f"weights: {error}; the {what} is damaged or hostile") from None
    declared = {key[len(prefix):]: (entry.shape, entry.dtype)
                for key, entry in archive.entries.items() if key.startswith(prefix)}
    wrong = weight_mismatches(model, declared, what)
    if wrong:
        raise ModelFileError(f"{archive.path}: the stored weights do not fit the stored model "
                             f"{describe(model)}: {listing(wrong)}")
    problem = preprocessing_problem(model)
    if problem is not None:
        raise ModelFileError(f"{archive.path}: the preprocessing in the stored model config is invalid "
                             f"({problem}); the {what} is damaged")
    return model


def preprocessing_problem(model: Sequential) -> str | None:
    """What is wrong with ``model.preprocessing`` (from a stored config), or None: shift and scale
    must be finite and broadcast over one sample, scale non-zero, kind one of ``u i b f``,
    the range finite."""
    rule = model.preprocessing
    if rule is None:
        return None
    shift, scale = np.asarray(rule.shift), np.asarray(rule.scale)
    sample = model.input_shape or ()
    for name, value in (("shift", shift), ("scale", scale)):
        if not np.isfinite(value).all():
            return f"{name} holds NaN or infinite values"
        if not _fits(value, sample):
            return f"{name} of shape {list(value.shape)} does not fit samples of shape {list(sample)}"
    if (scale == 0).any():
        return "scale 0 would erase every input"
    if rule.kind not in ("u", "i", "b", "f"):
        return f"kind {rule.kind[:20]!r} is not one of u, i, b, f"
    if any(bound is not None and not np.isfinite(bound) for bound in (rule.low, rule.high)):
        return "its range holds NaN or infinite values"
    return None


def _fits(value: np.ndarray[Any, Any], sample: tuple[int, ...]) -> bool:
    """Whether ``value`` broadcasts over one sample of shape ``sample`` without enlarging it."""
    try:
        return np.broadcast_shapes(value.shape, sample) == sample
    except ValueError:
        return False


def read_weights(archive: NpzReader, model: Sequential, prefix: str, what: str) -> Arrays:
    """The weight arrays under ``prefix`` in ``archive``, checked against ``model``: names, shapes
    and dtypes from the headers first (nothing inflated when they differ), then finiteness."""
    declared = {key[len(prefix):]: (entry.shape, entry.dtype)
                for key, entry in archive.entries.items() if key.startswith(prefix)}
    wrong = weight_mismatches(model, declared, what)
    if wrong:
        head = "checkpoint is for another model" if what == "checkpoint" else \
            "the stored weights do not fit the stored model"
        raise ModelFileError(f"{archive.path}: {head} {describe(model)}: {listing(wrong)}")
    weights = {name: archive.read(prefix + name) for name in declared}
    for name, value in weights.items():
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            raise ModelFileError(f"{archive.path}: entry {prefix + name!r} holds {bad} NaN or "
                                 f"infinite value{'s' if bad != 1 else ''}; the file is damaged "
                                 "(restore it from a backup or save the model again)")
    return weights


def load_preprocessing(path: str | Path) -> dict[str, float] | None:
    """The ``preprocessing`` stored in a model file (``{"shift", "scale"}``), or None.

    Raises:
        ModelFileError: the file is not a readable model file, or the entry is
            malformed, not finite, or has a zero scale.
    """
    with NpzReader(path, keep=lambda key: key in MODEL_ENTRIES) as archive:
        arrays = _read_small_entries(archive)
    check_format(arrays, path, MODEL_FORMAT)
    if "preprocessing" not in arrays:
        return None
    return _preprocessing(arrays, path)


def _preprocessing(arrays: Arrays, path: str | Path) -> dict[str, float]:
    """The checked ``preprocessing`` entry: finite ``shift`` and a finite, non-zero ``scale``."""
    stored = json_entry(arrays, "preprocessing", path)
    try:
        if not isinstance(stored, dict):
            raise TypeError(f"expected a mapping with 'shift' and 'scale', got {type(stored).__name__}")
        values = {key: checks.number(key, stored[key]) for key in ("shift", "scale")}
    except KeyError as error:
        raise ModelFileError(f"{path}: the entry 'preprocessing' has no {error}; the file is "
                             "damaged") from None
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: the entry 'preprocessing' is invalid ({error}); the file "
                             "is damaged") from None
    if values["scale"] == 0:
        raise ModelFileError(f"{path}: the entry 'preprocessing' has scale 0, which would erase "
                             "every input; the file is damaged")
    return values


def _plugins(arrays: Arrays, path: str | Path) -> list[str]:
    """The stored ``plugins`` entry: the modules defining the model's own layers (none when absent)."""
    if "plugins" not in arrays:
        return []
    stored = json_entry(arrays, "plugins", path)
    if not isinstance(stored, list) or not all(isinstance(name, str) and len(name) <= 200 for name in stored):
        raise ModelFileError(f"{path}: the entry 'plugins' is not a list of module names; the file is damaged")
    return stored


def model_from_config(config: Any, path: str | Path, plugins: list[str] | None = None) -> Sequential:
    """Rebuild a model from a stored config, turning every failure into :class:`ModelFileError`
    (an unregistered layer names ``plugins``, the modules that defined the model's layers)."""
    try:
        if not isinstance(config, dict) or "input_shape" not in config:
            raise ValueError("it is not a mapping with 'layers' and 'input_shape'")
        return Sequential.from_config(config)
    except (ModelFileError, ModelSizeError):
        raise
    except UnknownNameError as error:
        where = (f"import the module{'s' if len(plugins) > 1 else ''} {', '.join(plugins)} (where its layers "
                 f"came from when it was saved) before loading" if plugins
                 else f"import the module that defines it before loading ({error.hint})")
        raise ModelFileError(f"{path}: the model uses {error.kind} {error.name!r}, which is not "
                             f"registered; {where}") from None
    except LayernetError as error:
        raise ModelFileError(f"{path}: the stored model config is invalid: {error}; if it names a "
                             f"layer of your own, import the module that defines it before loading") from None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, MemoryError) as error:
        raise ModelFileError(f"{path}: the stored model config is invalid: {error}") from None


def describe(model: Sequential) -> str:
    """The model's sizes as ``"784-32-10"``: input size, then each parametrised layer's output size."""
    sizes = [int(np.prod(model.input_shape or ()))]
    sizes += [int(np.prod(layer.output_shape)) for layer in model.layers if layer.parameters()]
    return "-".join(map(str, sizes))


Spec = tuple[tuple[int, ...], np.dtype[Any]]


def weight_mismatches(model: Sequential, weights: Mapping[str, Spec], what: str) -> list[str]:
    """One line per array whose name, shape or dtype in ``weights`` (name -> (shape, dtype))
    differs from ``model``'s (``what`` names the file kind in the lines); empty when they fit."""
    expected = {name: (tuple(a.shape), a.dtype) for name, a in model.named_weights().items()}
    found = {name: (tuple(shape), dtype) for name, (shape, dtype) in weights.items()}
    return [f"{name}: {_spec(found.get(name))} in the {what}, {_spec(expected.get(name))} in the model"
            for name in sorted(expected.keys() | found.keys()) if expected.get(name) != found.get(name)]


def listing(lines: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``lines`` joined with ``"; "``, then how many more there are."""
    more = f"; and {len(lines) - shown} more" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


def _spec(spec: Spec | None) -> str:
    return "absent" if spec is None else f"{spec[1]}{list(spec[0])}"
