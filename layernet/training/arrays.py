"""Data for training: plain arrays to :class:`Dataset`, and the checks that a Dataset fits a model."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.dataset import Dataset
from ..errors import DataError
from ..model import Sequential


def as_dataset(x: Dataset | npt.ArrayLike, y: npt.ArrayLike | None = None, name: str = "x") -> Dataset:
    """``x`` (and labels ``y``) as a :class:`Dataset`; a Dataset is returned as is.

    ``uint8`` arrays are taken to be pixels and scaled by 1/255 batch by batch
    (they stay compact in memory); float arrays are used as they are.

    Args:
        x: a Dataset, or samples ``(n, *sample_shape)``.
        y: integer labels ``(n,)`` (None when ``x`` is a Dataset or unlabelled).
        name: what to call the data in error messages.

    Raises:
        DataError: ``y`` given with a Dataset, labels that are not integers
            ``(n,)``, or row counts that differ.
    """
    if isinstance(x, Dataset):
        if y is not None:
            raise DataError(f"{name}: pass labels inside the Dataset, not as y")
        return x
    samples: npt.NDArray[Any] = np.asarray(x)
    if samples.ndim < 2 or not (samples.dtype == np.uint8 or samples.dtype.kind == "f"):
        raise DataError(f"{name}: expected a uint8 or float array (n, *sample_shape), "
                        f"got {samples.dtype}{list(samples.shape)}")
    scale = 1 / 255 if samples.dtype == np.uint8 else 1.0
    labels = None if y is None else labels_of(y, len(samples), name)
    return Dataset(samples, labels, scale=scale, name=name)


def labels_of(y: npt.ArrayLike, rows: int, name: str) -> npt.NDArray[np.integer[Any]]:
    """``y`` as integer labels ``(rows,)``; :class:`DataError` otherwise."""
    labels = np.asarray(y)
    if labels.shape != (rows,) or labels.dtype.kind not in "iu":
        raise DataError(f"{name}: labels must be integers of shape ({rows},), "
                        f"got {labels.dtype}{list(labels.shape)}")
    return labels


def labels_of_dataset(data: Dataset) -> npt.NDArray[np.integer[Any]]:
    """``data.y``; :class:`DataError` when ``data`` has no labels."""
    if data.y is None:
        raise DataError(f"{data.name or 'the data'} has no labels; training and evaluation need y")
    return data.y


def check_fits(model: Sequential, data: Dataset) -> None:
    """Raise :class:`DataError` unless ``data`` has rows, labels, rows of the model's input
    shape and labels in ``[0, classes)`` (two classes for a single output unit)."""
    name = data.name or "the data"
    labels = labels_of_dataset(data)
    if len(data) == 0:
        raise DataError(f"{name} has no rows")
    if data.sample_shape != model.input_shape:
        same_size = int(np.prod(data.sample_shape)) == int(np.prod(model.input_shape or ()))
        fix = ("set data.flatten to match (or start the model with a Flatten layer)" if same_size
               else "use data of the model's input shape or change model.input_shape")
        raise DataError(f"{name} has samples of shape {list(data.sample_shape)}, the model expects "
                        f"{list(model.input_shape or ())}; {fix}")
    classes = class_count(model.output_shape or ())
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise DataError(f"{name} has labels from {low} to {high}, but the model predicts "
                        f"{classes} classes (labels 0 to {classes - 1}); check the last layer's units")


def class_count(output_shape: tuple[int, ...]) -> int:
    """Number of classes a model with ``output_shape`` (batch excluded) predicts: 2 for one unit."""
    units = int(np.prod(output_shape))
    return 2 if units == 1 else units
