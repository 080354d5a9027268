"""Model files: ``load_model`` reads what ``Sequential.save`` writes (layout in :mod:`layernet.archive`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..archive import (MODEL_FORMAT, WEIGHTS_PREFIX, Arrays, check_format, json_entry,
                       read_archive, unprefixed)
from ..errors import LayernetError, ModelFileError, UnknownNameError
from ..model import Sequential


def save_model(model: Sequential, path: str | Path, *,
               preprocessing: Mapping[str, float] | None = None) -> None:
    """Write ``model`` to the model file ``path`` atomically; the same as ``model.save(path, ...)``."""
    model.save(path, preprocessing=None if preprocessing is None else dict(preprocessing))


def load_model(path: str | Path) -> Sequential:
    """Read a model file written by :meth:`Sequential.save`; returns a built :class:`Sequential`.

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
    """The ``preprocessing`` stored in a model file (``{"shift", "scale"}``), or None.

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


def model_from_config(config: Any, path: str | Path) -> Sequential:
    """Rebuild a model from a stored config, turning every failure into :class:`ModelFileError`."""
    try:
        if not isinstance(config, dict) or "input_shape" not in config:
            raise ValueError("it is not a mapping with 'layers' and 'input_shape'")
        return Sequential.from_config(config)
    except ModelFileError:
        raise
    except UnknownNameError as error:
        raise ModelFileError(
            f"{path}: the model uses {error.kind} {error.name!r}, which is not registered; import "
            f"the module that defines it before loading ({error.hint})") from None
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


def weight_mismatches(model: Sequential, weights: Arrays, what: str) -> list[str]:
    """One line per array whose name, shape or dtype in ``weights`` differs from ``model``'s
    (``what`` names the file kind in the lines); empty when they fit."""
    expected = {name: (tuple(a.shape), a.dtype) for name, a in model.named_weights().items()}
    found = {name: (tuple(a.shape), a.dtype) for name, a in weights.items()}
    return [f"{name}: {_spec(found.get(name))} in the {what}, {_spec(expected.get(name))} in the model"
            for name in sorted(expected.keys() | found.keys()) if expected.get(name) != found.get(name)]


def listing(lines: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``lines`` joined with ``"; "``, then how many more there are."""
    more = f"; and {len(lines) - shown} more" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


def _spec(spec: tuple[tuple[int, ...], np.dtype[Any]] | None) -> str:
    return "absent" if spec is None else f"{spec[1]}{list(spec[0])}"
