"""Classification metrics: predicted classes, accuracy counts, confusion matrices, evaluations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.dataset import Dataset, labels_of
from ..errors import DataError, ModelSizeError
from ..losses import Loss
from ..model import Sequential
from ..objective import Objective, pair


#: The largest k reported in :attr:`Evaluation.top_k`.
TOP_K = 5
#: Most classes :attr:`Evaluation.confusion` is drawn for: ``classes²`` int64 counts (128 MiB here).
MAX_CLASSES = 4096


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`layernet.evaluate` and :meth:`Trainer.evaluate`.

    Attributes:
        loss: mean loss over all rows.
        accuracy: fraction of rows whose predicted class is the label.
        top_k: ``{k: fraction of rows whose label is among the k highest outputs}`` for
            ``k = 1 .. min(5, classes)`` (``top_k[1] == accuracy``).
        predicted: the predicted class of every row ``(n,)``, in the data's order.
        misclassified: indices ``(m,)`` of the rows whose predicted class is not the
            label, in order: ``x[evaluation.misclassified]`` are the mistakes.
        labels: the true class of every row ``(n,)``.
        classes: how many classes the model tells apart.

    Per-class figures (:attr:`precision`, :attr:`recall`, :attr:`f1`, :attr:`support`) are
    counted per class; the :attr:`confusion` matrix (``classes²`` counts) only when asked for.
    """

    loss: float
    accuracy: float
    top_k: dict[int, float]
    predicted: npt.NDArray[np.intp]
    misclassified: npt.NDArray[np.intp]
    labels: npt.NDArray[np.intp]
    classes: int

    @property
    def samples(self) -> int:
        """How many rows were evaluated."""
        return len(self.predicted)

    @property
    def confusion(self) -> npt.NDArray[np.int64]:
        """Counts ``(classes, classes)`` of int64; ``confusion[t, p]`` is the number of rows with
        true label ``t`` predicted as ``p``.

        Raises:
            ModelSizeError: more than :data:`MAX_CLASSES` classes (the matrix would not fit).
        """
        if self.classes > MAX_CLASSES:
            raise ModelSizeError(f"a confusion matrix of {self.classes:,} classes would hold "
                                 f"{self.classes ** 2:,} counts; layernet draws it for up to "
                                 f"{MAX_CLASSES:,} classes (precision, recall and F1 work for any number)")
        return confusion_matrix(self.labels, self.predicted, self.classes)

    @property
    def support(self) -> npt.NDArray[np.int64]:
        """Per class ``(classes,)``: how many rows have that label."""
        return np.bincount(self.labels, minlength=self.classes).astype(np.int64)

    @property
    def precision(self) -> npt.NDArray[np.float64]:
        """Per class ``(classes,)``: of the rows predicted as the class, the fraction that are
        (0 for a class never predicted)."""
        return _ratio(self._correct(), np.bincount(self.predicted, minlength=self.classes))

    @property
    def recall(self) -> npt.NDArray[np.float64]:
        """Per class ``(classes,)``: of the rows of the class, the fraction predicted as it
        (0 for a class absent from the data)."""
        return _ratio(self._correct(), self.support)

    @property
    def f1(self) -> npt.NDArray[np.float64]:
        """Per class ``(classes,)``: the harmonic mean of precision and recall (0 when both are 0)."""
        p, r = self.precision, self.recall
        return _ratio(2 * p * r, p + r)

    def _correct(self) -> npt.NDArray[np.int64]:
        """Per class ``(classes,)``: how many rows of the class were predicted as it."""
        hits = self.labels[self.predicted == self.labels]
        return np.bincount(hits, minlength=self.classes).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (JSON): loss, accuracy, top_k, per-class precision/recall/F1/support,
        confusion (None above :data:`MAX_CLASSES` classes), and the misclassified indices."""
        return {"samples": self.samples, "loss": self.loss, "accuracy": self.accuracy,
                "top_k": {str(k): v for k, v in self.top_k.items()},
                "per_class": {"precision": self.precision.tolist(), "recall": self.recall.tolist(),
                              "f1": self.f1.tolist(), "support": self.support.tolist()},
                "confusion": self.confusion.tolist() if self.classes <= MAX_CLASSES else None,
                "misclassified": self.misclassified.tolist()}

    def report(self) -> str:
        """A text table: one row per class with precision, recall, F1 and support."""
        width = max(5, len(str(self.classes - 1)))
        lines = [f"{'class':>{width}}  precision  recall      f1  support"]
        for k, (p, r, f, n) in enumerate(zip(self.precision, self.recall, self.f1, self.support)):
            lines.append(f"{k:>{width}}  {p:9.4f}  {r:6.4f}  {f:6.4f}  {int(n):7d}")
        return "\n".join(lines)


def _ratio(top: npt.NDArray[Any], bottom: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    top, bottom = np.asarray(top, dtype=np.float64), np.asarray(bottom, dtype=np.float64)
    out = np.zeros_like(top)
    np.divide(top, bottom, out=out, where=bottom > 0)
    return out


def as_inputs(x: Any, name: str = "x") -> npt.NDArray[Any]:
    """``x`` as an array of samples; :class:`DataError` for anything that is not array-like."""
    if not isinstance(x, (np.ndarray, list, tuple)):
        raise DataError(f"{name}: expected a layernet Dataset or an array of samples "
                        f"(n, *sample_shape), got {type(x).__name__}")
    return np.asarray(x)


def as_dataset(x: Any, y: Any, name: str = "x") -> Dataset:
    """Training data given as a :class:`Dataset` or as arrays ``x``, ``y``
    (:meth:`Dataset.from_arrays`); :class:`DataError` for anything else."""
    if isinstance(x, Dataset):
        if y is not None:
            raise DataError(f"{name}: pass labels inside the Dataset, not as y")
        return x
    samples = as_inputs(x, name)
    if y is None:
        raise DataError(f"{name}: labels are missing; pass y (integer labels, one per row) "
                        "or a labelled Dataset")
    return Dataset.from_arrays(samples, y, name)


def as_validation(data: Any) -> Dataset | None:
    """Validation data: None, a :class:`Dataset` or a pair ``(x_val, y_val)``."""
    if data is None or isinstance(data, Dataset):
        return data
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError("validation_data: expected a Dataset or a pair (x_val, y_val), "
                        f"got {type(data).__name__}")
    return as_dataset(data[0], data[1], "validation_data")


def model_dataset(model: Sequential, x: Any, y: Any, name: str = "x") -> Dataset:
    """Data for ``model`` normalised as its training data was: a :class:`Dataset` as it is,
    arrays of the training kind with the model's :attr:`~layernet.Sequential.preprocessing`
    (other arrays follow :meth:`Dataset.from_arrays`)."""
    if isinstance(x, Dataset):
        return as_dataset(x, y, name)
    samples = as_inputs(x, name)
    rule = model.preprocessing
    if rule is not None and rule.applies_to(samples):
        labels = None if y is None else labels_of(y, len(samples), name)
        return Dataset(samples, labels, scale=rule.scale, shift=rule.shift, name=name)
    return Dataset.from_arrays(samples, y, name)


def confusion_matrix(labels: npt.NDArray[np.integer[Any]], predicted: npt.NDArray[np.integer[Any]],
                     classes: int) -> npt.NDArray[np.int64]:
    """Counts ``(classes, classes)``: row = true label, column = predicted class."""
    flat = np.bincount(labels.astype(np.int64) * classes + predicted, minlength=classes * classes)
    return flat.reshape(classes, classes)


def evaluate(model: Sequential, loss: Loss | Objective, data: Dataset, batch_size: int = 1024) -> Evaluation:
    """Loss, accuracy, top-k accuracy, confusion matrix and mistakes of ``model`` on ``data``
    in inference mode (per-class precision/recall/F1 are properties of the result).

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
    ks = range(1, min(TOP_K, classes) + 1)
    hits = dict.fromkeys(ks, 0)
    predicted = np.empty(len(data), dtype=np.intp)
    loss_sum = 0.0
    for rows, x in data.batches(batch_size, model.dtype):
        value, outputs = objective.forward(x, labels[rows], training=False)
        loss_sum += value * len(labels[rows])
        predicted[rows] = objective.predicted_classes(outputs)
        if classes > 2 and outputs.ndim == 2 and outputs.shape[1] == classes:
            rank = _rank_of_label(outputs, labels[rows])
            for k in ks:
                hits[k] += int(np.count_nonzero(rank < k))
    model.clear_cache()
    wrong = np.flatnonzero(predicted != labels).astype(np.intp)
    accuracy = (len(data) - len(wrong)) / len(data)
    top_k = {k: accuracy if k == 1 else (1.0 if k >= classes else hits[k] / len(data)) for k in ks}
    return Evaluation(loss_sum / len(data), accuracy, top_k, predicted, wrong,
                      labels.astype(np.intp, copy=False), classes)


def _rank_of_label(outputs: npt.NDArray[Any], labels: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.intp]:
    """How many classes score strictly higher than each row's label (0: the label is top-1)."""
    own = np.take_along_axis(outputs, labels.astype(np.intp)[:, None], axis=1)
    rank: npt.NDArray[np.intp] = np.count_nonzero(outputs > own, axis=1)
    return rank


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
