"""Classification metrics: predicted classes, accuracy counts, confusion matrices, evaluations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._typing import Array
from ..data.dataset import Dataset
from ..fusion import plain
from ..losses import Loss
from ..model import Sequential
from .arrays import check_fits, class_count, labels_of_dataset


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


def predicted_classes(outputs: Array) -> npt.NDArray[np.intp]:
    """Class of each row of ``outputs`` ``(batch, classes)``: the argmax, or for a single
    output column ``(batch, 1)`` (a sigmoid probability) whether it is at least 0.5."""
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        return (outputs[:, 0] >= 0.5).astype(np.intp)
    classes: npt.NDArray[np.intp] = np.argmax(outputs.reshape(outputs.shape[0], -1), axis=1)
    return classes


def confusion_matrix(labels: npt.NDArray[np.integer[Any]], predicted: npt.NDArray[np.integer[Any]],
                     classes: int) -> npt.NDArray[np.int64]:
    """Counts ``(classes, classes)``: row = true label, column = predicted class."""
    flat = np.bincount(labels.astype(np.int64) * classes + predicted, minlength=classes * classes)
    return flat.reshape(classes, classes)


def evaluate(model: Sequential, loss: Loss, data: Dataset, batch_size: int = 1024) -> Evaluation:
    """Loss, accuracy and confusion matrix of ``model`` on ``data`` in inference mode.

    Args:
        model: a built model.
        loss: the loss to report (its mean over all rows).
        data: labelled rows ``(n, *model.input_shape)``, labels ``(n,)``.
        batch_size: rows per forward pass (memory only; results do not depend on it).

    Raises:
        DataError: no labels, no rows, rows of another shape or labels out of range.
    """
    check_fits(model, data)
    labels = labels_of_dataset(data)
    classes = class_count(model.output_shape or ())
    confusion = np.zeros((classes, classes), dtype=np.int64)
    loss_sum = 0.0
    for rows, x in data.batches(batch_size, model.dtype):
        outputs = model.forward(x)
        loss_sum += loss.forward(outputs, labels[rows]) * len(labels[rows])
        predicted = predicted_classes(loss.probabilities(plain(outputs)))
        confusion += confusion_matrix(labels[rows], predicted, classes)
    model.clear_cache()
    return Evaluation(loss_sum / len(data), float(np.trace(confusion)) / len(data), confusion)
