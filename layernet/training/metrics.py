"""Classification metrics: predicted classes, accuracy counts, confusion matrices, evaluations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.dataset import Dataset
from ..errors import DataError
from ..losses import Loss
from ..model import Sequential
from ..objective import Objective, pair


@dataclass(frozen=True)
class Evaluation:
    """The result of :meth:`Trainer.evaluate`.

    Attributes:
        loss: mean loss over all rows.
        accuracy: fraction of rows whose predicted class is the label.
        confusion: counts ``(classes, classes)`` of int64; ``confusion[t, p]``
            is the number of rows with true label ``t`` predicted as ``p``.
    """

    loss: float
    accuracy: float
    confusion: npt.NDArray[np.int64]

    @property
    def samples(self) -> int:
        """How many rows were evaluated."""
        return int(self.confusion.sum())


def confusion_matrix(labels: npt.NDArray[np.integer[Any]], predicted: npt.NDArray[np.integer[Any]],
                     classes: int) -> npt.NDArray[np.int64]:
    """Counts ``(classes, classes)``: row = true label, column = predicted class."""
    flat = np.bincount(labels.astype(np.int64) * classes + predicted, minlength=classes * classes)
    return flat.reshape(classes, classes)


def evaluate(model: Sequential, loss: Loss | Objective, data: Dataset, batch_size: int = 1024) -> Evaluation:
    """Loss, accuracy and confusion matrix of ``model`` on ``data`` in inference mode.

    Args:
        model: a built model.
        loss: the loss to report (its mean over all rows), or the model and loss
            already paired (:func:`layernet.objective.pair`).
        data: labelled rows ``(n, *model.input_shape)``, labels ``(n,)``.
        batch_size: rows per forward pass (memory only; results do not depend on it).

    Raises:
        DataError: no labels, no rows, rows of another shape or labels out of range.
        PairingError: the loss does not fit the model's last layer.
    """
    objective = loss if isinstance(loss, Objective) else pair(model, loss)
    check_fits(model, data)
    labels = data.labels()
    classes = class_count(model.output_shape or ())
    confusion = np.zeros((classes, classes), dtype=np.int64)
    loss_sum = 0.0
    for rows, x in data.batches(batch_size, model.dtype):
        value, outputs = objective.forward(x, labels[rows], training=False)
        loss_sum += value * len(labels[rows])
        confusion += confusion_matrix(labels[rows], objective.predicted_classes(outputs), classes)
    model.clear_cache()
    return Evaluation(loss_sum / len(data), float(np.trace(confusion)) / len(data), confusion)


def check_fits(model: Sequential, data: Dataset) -> None:
    """Raise :class:`DataError` unless ``data`` has rows, labels, rows of the model's input
    shape and labels in ``[0, classes)`` (two classes for a single output unit)."""
    name = data.name or "the data"
    labels = data.labels()
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
