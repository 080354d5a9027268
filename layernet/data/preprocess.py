"""Preprocessing: shaping samples for the model and normalisation, applied lazily by :meth:`Dataset.batch`.

Nothing here converts the stored samples: shaping (flattening to ``(784,)``, or
reshaping to a model's ``input_shape`` such as ``(1, 28, 28)``) is a reshape (a view) and
normalisation sets ``Dataset.shift`` and ``Dataset.scale``, which ``batch``
applies to each batch as ``(x − shift) · scale`` while converting it to the
model dtype. The uint8 images stay uint8 in memory.

Normalisation modes:

* ``"scale"``: ``x / 255`` (pixels to [0, 1], as in the seeds).
* ``"standardize"``: ``(x − mean) / std`` with one **global** mean and standard
  deviation over all training values (every pixel of every training image),
  computed on the training split only and applied unchanged to test and
  prediction inputs. Global rather than per-pixel: MNIST's border pixels are
  always 0 in training, so a per-pixel std of 0 would blow up any test digit
  that touches them.
* ``"none"``: raw values.
"""

from __future__ import annotations

from dataclasses import replace
import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ..errors import DataError
from .dataset import Dataset

Normalize = Literal["scale", "standardize", "none"]
#: Accepted ``normalize`` values.
NORMALIZE_MODES: tuple[Normalize, ...] = ("scale", "standardize", "none")
#: Rows per chunk when computing statistics (bounds the float64 temporaries).
_CHUNK_ROWS = 4096


def normalization(mode: str, train: Dataset) -> tuple[float, float]:
    """The ``(shift, scale)`` for ``mode``, fitted on the training samples ``train.x``.

    Raises:
        DataError: for an unknown mode, or ``"standardize"`` on constant data.
    """
    if mode == "scale":
        return 0.0, 1.0 / 255.0
    if mode == "none":
        return 0.0, 1.0
    if mode == "standardize":
        mean, std = global_mean_std(train.x)
        if not std > 0:
            raise DataError(f"{train.name}: every training value is {mean:g}, so 'standardize' "
                            "would divide by a zero std; use normalize: scale or none")
        return mean, 1.0 / std
    raise DataError(f"normalize: unknown mode {mode!r}; use one of {', '.join(NORMALIZE_MODES)}")


def global_mean_std(x: npt.NDArray[Any]) -> tuple[float, float]:
    """Mean and (population) standard deviation of all values of ``x`` ``(n, ...)``, in float64.

    Computed in two passes over chunks of rows, so memory stays small for uint8 data.
    """
    if x.size == 0:
        raise DataError("cannot standardize an empty training set")
    total = sum(float(chunk.sum(dtype=np.float64)) for chunk in _chunks(x))
    mean = total / x.size
    squares = sum(float(np.square(chunk - mean, dtype=np.float64).sum()) for chunk in _chunks(x))
    return mean, float(np.sqrt(squares / x.size))


def _chunks(x: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
    return [x[start:start + _CHUNK_ROWS] for start in range(0, len(x), _CHUNK_ROWS)]


def prepare(data: Dataset, *, flatten: bool = True, shape: tuple[int, ...] | None = None,
            shift: float, scale: float) -> Dataset:
    """``data`` with its samples shaped for a model and the given per-batch normalisation.

    Args:
        data: samples ``(n, *sample_shape)``.
        flatten: reshape samples to ``(n, prod(sample_shape))``, e.g. ``(n, 784)``;
            otherwise keep the stored shape, e.g. ``(n, 28, 28)`` (ignored when ``shape`` is given).
        shape: the model's input shape, e.g. ``(1, 28, 28)``: samples of the same
            number of values are reshaped to it (a view), whatever their stored shape.

    Raises:
        DataError: ``shape`` holds another number of values than a sample.
        shift: subtracted from every value per batch.
        scale: multiplied into every value per batch, after the shift.
    """
    if shape is not None:
        return replace(data, x=data.x.reshape(len(data), *fitted_shape(data, tuple(shape))),
                       shift=shift, scale=scale)
    x = data.x.reshape(len(data), math.prod(data.sample_shape)) if flatten else data.x
    return replace(data, x=x, shift=shift, scale=scale)


def fitted_shape(data: Dataset, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` when a sample of ``data`` has as many values, else :class:`DataError` saying why."""
    have, want = math.prod(data.sample_shape), math.prod(shape)
    if have != want:
        raise DataError(f"{data.name or 'the data'}: samples of shape {list(data.sample_shape)} ({have} "
                        f"values) cannot feed a model whose input_shape is {list(shape)} ({want} "
                        f"values); use data of that size or change model.input_shape")
    return shape
