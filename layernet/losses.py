"""Loss functions: ``forward(y_pred, y_true) -> float`` and ``backward() -> dL/dy_pred``.

Every loss averages over the batch, so ``backward`` already carries the
``1/m`` the seeds write in ``dW = 1/m · dZ·Aᵀ``.

A loss on probabilities declares the layer that turns logits into what it
expects (:attr:`Loss.link`: ``Softmax`` for :class:`CrossEntropy`, ``Sigmoid``
for :class:`BinaryCrossEntropy`) and the same loss on logits
(:meth:`Loss.on_logits`). :mod:`layernet.objective` pairs a model with its loss
once, from these declarations.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from . import checks
from .errors import DataError
from .ops import sigmoid, softmax, softmax_terms, softplus_of_negative_abs
from .registry import Configured, Registry
from .typing import Array


class Loss(Configured):
    """Base class of losses.

    ``forward(y_pred, y_true)`` returns the mean loss over the batch as a
    float and caches what ``backward`` needs; ``backward()`` returns
    ``dL/dy_pred`` with the shape of ``y_pred``.
    """

    def forward(self, y_pred: Array, y_true: npt.NDArray[Any]) -> float:
        """Mean loss of predictions ``y_pred`` ``(batch, ...)`` against targets ``y_true``."""
        raise NotImplementedError

    def backward(self) -> Array:
        """``dL/dy_pred`` for the last :meth:`forward` call, shape of ``y_pred``."""
        raise NotImplementedError

    #: The registered name of the layer that maps logits to this loss's input
    #: (``"Softmax"``), or None when the loss takes any real outputs.
    link: ClassVar[str | None] = None
    #: Whether ``y_pred`` are logits (the link is applied inside the loss).
    from_logits: bool = False
    #: Whether the loss is the mean over rows of a term of each row alone (true of every
    #: built-in loss), so a batch's loss and gradient may be added up from blocks of rows
    #: (see :attr:`layernet.Layer.rowwise`). Subclasses inherit it: a subclass of a built-in
    #: loss that is not such a mean sets it False.
    rowwise: ClassVar[bool] = False

    def on_logits(self) -> Loss | None:
        """The same loss computed from the link layer's input (logits), or None without a link."""
        return None

    def probabilities(self, outputs: Array) -> Array:
        """The model ``outputs`` as probabilities: unchanged, unless the loss takes logits."""
        return outputs

    def predicted_classes(self, outputs: Array) -> npt.NDArray[np.intp]:
        """The class of each row of ``outputs`` ``(batch, classes)``: the argmax, or for a single
        column ``(batch, 1)`` whether its probability is at least 0.5."""
        return predicted_classes(self.probabilities(outputs))

    def __call__(self, y_pred: Array, y_true: npt.NDArray[Any]) -> float:
        return self.forward(y_pred, y_true)



LOSSES: Registry[Loss] = Registry("loss", Loss, "layernet.LOSSES.register", "CrossEntropy")

#: Probabilities are clipped to ``[EPSILON, 1 − EPSILON]`` where the loss has no logits.
EPSILON = 1e-7


def predicted_classes(probabilities: Array) -> npt.NDArray[np.intp]:
    """Class of each row of ``probabilities`` ``(batch, classes)``: the argmax, or for a single
    column ``(batch, 1)`` (a sigmoid probability) whether it is at least 0.5."""
    if probabilities.ndim == 2 and probabilities.shape[1] == 1:
        return (probabilities[:, 0] >= 0.5).astype(np.intp)
    classes: npt.NDArray[np.intp] = np.argmax(probabilities.reshape(probabilities.shape[0], -1), axis=1)
    return classes


def one_hot(labels: npt.NDArray[Any], classes: int, dtype: Any = np.float32) -> Array:
    """Integer labels ``(batch,)`` to a one-hot matrix ``(batch, classes)``."""
    labels = check_labels(labels, classes)
    out = np.zeros((labels.shape[0], classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def check_labels(labels: npt.NDArray[Any], classes: int) -> npt.NDArray[Any]:
    """``labels`` ``(batch,)`` as an array; ``ValueError`` unless every label is in ``[0, classes)``."""
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise DataError(f"labels must be in [0, {classes - 1}] for {classes} output unit"
                        f"{'s' if classes != 1 else ''}, got values from {labels.min()} to "
                        f"{labels.max()}; check the last layer's units and the loss")
    return labels


def is_labels(y_true: npt.NDArray[Any], like: Array) -> bool:
    """Whether ``y_true`` are integer class labels ``(batch,)`` for predictions ``like`` ``(batch, classes)``."""
    return y_true.ndim == 1 and like.ndim == 2 and y_true.dtype.kind in "iu"


def as_targets(y_true: npt.NDArray[Any], like: Array) -> Array:
    """Targets as an array shaped like ``like``: integer labels are one-hot encoded."""
    y_true = np.asarray(y_true)
    if is_labels(y_true, like):
        return one_hot(y_true, like.shape[1], like.dtype)
    if y_true.shape != like.shape:
        raise ValueError(f"targets of shape {y_true.shape} do not match predictions of shape {like.shape}")
    return y_true.astype(like.dtype, copy=False)


@LOSSES.register
class CrossEntropy(Loss):
    """Categorical cross-entropy ``L = −1/m Σ_i Σ_k T_ik · log P_ik``.

    ``y_true`` is integer labels ``(batch,)`` or one-hot ``(batch, classes)``.

    * ``from_logits=True``: ``y_pred`` are logits ``Z``; the loss is
      ``logsumexp(Z) − Z_y`` (finite for any finite logits) and ``backward``
      returns exactly ``(softmax(Z) − T)/m`` — the seeds' ``dZ2 = A2 − Y`` with
      the mean's ``1/m``.
    * Otherwise ``y_pred`` are probabilities (clipped to ``[1e-7, 1]``), and the
      model must end in :class:`layernet.Softmax`. Training and evaluation then
      fuse the pair: this loss is computed with ``from_logits=True`` on the
      Softmax's input (see :mod:`layernet.objective`).

    Args:
        from_logits: whether ``y_pred`` are logits rather than probabilities.

    Shape:
        y_pred ``(batch, classes)``; y_true ``(batch,)`` ints or ``(batch, classes)``.
    """

    link = "Softmax"
    rowwise = True

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = checks.flag("from_logits", from_logits)
        self._grad: Array | None = None

    def forward(self, y_pred: Array, y_true: npt.NDArray[Any]) -> float:
        m = y_pred.shape[0]
        if not self.from_logits:
            targets = as_targets(y_true, y_pred)
            probs = np.clip(y_pred, EPSILON, None)
            self._grad = -targets / probs / m
            return float(-np.sum(targets * np.log(probs)) / m)
        y_true = np.asarray(y_true)
        loss, grad = (_labelled_cross_entropy(y_pred, y_true) if is_labels(y_true, y_pred)
                      else _dense_cross_entropy(y_pred, as_targets(y_true, y_pred)))
        grad /= m
        self._grad = grad
        return float(loss / m)

    def backward(self) -> Array:
        if self._grad is None:
            raise RuntimeError("CrossEntropy.backward called before forward")
        return self._grad

    def on_logits(self) -> Loss:
        """``CrossEntropy(from_logits=True)``."""
        return CrossEntropy(from_logits=True)

    def probabilities(self, outputs: Array) -> Array:
        """Softmax of ``outputs`` ``(batch, classes)`` with ``from_logits=True``, else unchanged."""
        return softmax(outputs) if self.from_logits else outputs

    def predicted_classes(self, outputs: Array) -> npt.NDArray[np.intp]:
        """The argmax of ``outputs`` (softmax keeps the order, so logits need no softmax)."""
        return predicted_classes(outputs)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


def _softmax_terms(logits: Array) -> tuple[Array, Array]:
    """``(P, log Σ exp(Z − max Z) + max Z)``: the softmax ``(batch, k)`` (either layout) and
    each row's log-sum-exp ``(batch,)``, from one exponential (:func:`layernet.ops.softmax_terms`)."""
    probs, shift, total = softmax_terms(logits)
    logsumexp: Array = np.log(total) + shift
    return probs, logsumexp


def _labelled_cross_entropy(logits: Array, labels: npt.NDArray[Any]) -> tuple[np.floating[Any], Array]:
    """Summed loss and ``m·dL/dZ = P − T`` ``(batch, k)``, row-major, for integer ``labels``
    ``(batch,)``, by indexing (no one-hot matrix): row ``i`` loses ``logsumexp(Z_i) − Z_i,y``."""
    labels = check_labels(labels, logits.shape[1])
    rows = np.arange(labels.shape[0])
    probs, logsumexp = _softmax_terms(logits)
    loss: np.floating[Any] = np.sum(logsumexp - logits[rows, labels])
    grad = np.ascontiguousarray(probs)
    grad[rows, labels] -= 1
    return loss, grad


def _dense_cross_entropy(logits: Array, targets: Array) -> tuple[np.floating[Any], Array]:
    """Summed loss and ``m·dL/dZ = P · ΣT − T`` for target rows ``targets`` ``(batch, classes)``."""
    probs, logsumexp = _softmax_terms(logits)
    loss: np.floating[Any] = np.sum(targets * (logsumexp[:, None] - logits))
    grad: Array = np.ascontiguousarray(probs * targets.sum(axis=1, keepdims=True) - targets)
    return loss, grad


@LOSSES.register
class MSE(Loss):
    """Mean squared error over every element: ``L = 1/(m·n) Σ (ŷ − y)²``.

    ``backward`` returns ``2(ŷ − y)/(m·n)``. This is PyTorch's and Keras's
    convention; the seeds write ``1/(2m) Σ (ŷ − y)²`` (sum over units, half the
    square), which differs by the constant factor ``n/2`` and so only rescales
    the learning rate. Integer labels are one-hot encoded.

    Shape: y_pred ``(batch, n)``; y_true ``(batch, n)`` or ``(batch,)`` ints.
    """

    rowwise = True

    def __init__(self) -> None:
        self._grad: Array | None = None

    def forward(self, y_pred: Array, y_true: npt.NDArray[Any]) -> float:
        diff = np.asarray(y_pred) - as_targets(y_true, y_pred)
        self._grad = diff * (2 / diff.size)
        return float(np.mean(diff * diff))

    def backward(self) -> Array:
        if self._grad is None:
            raise RuntimeError("MSE.backward called before forward")
        return self._grad


@LOSSES.register
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy over every element:
    ``L = −1/N Σ [y·log p + (1 − y)·log(1 − p)]``.

    With ``from_logits=True`` ``y_pred`` are logits ``z`` and the loss is the
    stable ``max(z, 0) − z·y + log(1 + exp(−|z|))`` with gradient
    ``(σ(z) − y)/N``; otherwise probabilities are clipped to ``[1e-7, 1 − 1e-7]``.

    Args:
        from_logits: whether ``y_pred`` are logits rather than probabilities.

    Shape: y_pred ``(batch, k)``; y_true of the same shape (or ``(batch,)`` when k = 1), values in [0, 1].
    """

    link = "Sigmoid"
    rowwise = True

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = checks.flag("from_logits", from_logits)
        self._grad: Array | None = None

    def forward(self, y_pred: Array, y_true: npt.NDArray[Any]) -> float:
        y = np.asarray(y_true, dtype=y_pred.dtype).reshape(y_pred.shape)
        n = y_pred.size
        if self.from_logits:
            z = np.asarray(y_pred)
            self._grad = (sigmoid(z) - y) / n
            return float(np.sum(np.maximum(z, 0) - z * y + softplus_of_negative_abs(z)) / n)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        self._grad = (p - y) / (p * (1 - p)) / n
        return float(-np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)) / n)

    def backward(self) -> Array:
        if self._grad is None:
            raise RuntimeError("BinaryCrossEntropy.backward called before forward")
        return self._grad

    def on_logits(self) -> Loss:
        """``BinaryCrossEntropy(from_logits=True)``."""
        return BinaryCrossEntropy(from_logits=True)

    def probabilities(self, outputs: Array) -> Array:
        """Sigmoid of ``outputs`` ``(batch, k)`` with ``from_logits=True``, else unchanged."""
        return sigmoid(outputs) if self.from_logits else outputs

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


def get_loss(spec: Loss | str | dict[str, Any]) -> Loss:
    """Resolve ``"CrossEntropy"``, ``{"type": "CrossEntropy", "from_logits": True}`` or an instance."""
    return LOSSES.create(spec)


def loss_config(loss: Loss) -> dict[str, Any]:
    """``{"type": registered name, **loss.get_config()}``."""
    return LOSSES.config_of(loss)