"""Softmax + cross-entropy fusion, done the way Keras does it.

``Softmax.forward`` returns its probabilities as :class:`SoftmaxProbabilities`,
an ``ndarray`` that also carries the :class:`SoftmaxParts` it was computed
from (logits, row maxima, normalisers). ``CrossEntropy`` recognises it,
computes the loss from those parts with log-sum-exp (finite even for logits
of ±1e4, and without recomputing the exponentials) and returns from
``backward`` a
:class:`LogitGradient`: the exact ``(P − Y)/m``, already the gradient with
respect to the logits. ``Softmax.backward`` passes a ``LogitGradient``
through unchanged and applies the true Jacobian-vector product to any other
gradient. Any operation on the arrays (slicing, arithmetic) yields plain
behaviour, so the fusion can never apply to values it does not describe.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._typing import Array


class SoftmaxParts(NamedTuple):
    """A row-wise softmax and what it was computed from: ``probs = exp(logits − shift) / total``.

    Attributes:
        probs: the probabilities ``P`` ``(batch, classes)``.
        logits: the input ``Z`` ``(batch, classes)``.
        shift: the row maxima of ``Z`` ``(batch, 1)``.
        total: the normalisers ``Σ_k exp(Z_k − shift)`` ``(batch, 1)``; ``log(total) + shift``
            is the log-sum-exp of each row.
    """

    probs: Array
    logits: Array
    shift: Array
    total: Array


class SoftmaxProbabilities(np.ndarray[Any, np.dtype[Any]]):
    """Softmax output ``P`` of shape ``(batch, classes)``; ``parts`` is how it was computed."""

    parts: SoftmaxParts | None = None

    def __array_finalize__(self, obj: Any) -> None:
        self.parts = None


class LogitGradient(np.ndarray[Any, np.dtype[Any]]):
    """A gradient that is already ``dL/dlogits`` (shape ``(batch, classes)``); Softmax passes it through."""


def mark_probabilities(parts: SoftmaxParts) -> Array:
    """View ``parts.probs`` as :class:`SoftmaxProbabilities` remembering ``parts``."""
    marked = parts.probs.view(SoftmaxProbabilities)
    marked.parts = parts
    return marked


def softmax_parts_of(probs: Array) -> SoftmaxParts | None:
    """The :class:`SoftmaxParts` behind ``probs`` if it is an unmodified Softmax output, else None."""
    return probs.parts if isinstance(probs, SoftmaxProbabilities) else None


def mark_logit_gradient(grad: Array) -> Array:
    """View ``grad`` as a :class:`LogitGradient`."""
    return grad.view(LogitGradient)


def is_logit_gradient(grad: Array) -> bool:
    """True if ``grad`` was produced by a fused loss and is already ``dL/dlogits``."""
    return isinstance(grad, LogitGradient)


def plain(array: Array) -> Array:
    """``array`` as a plain ``ndarray`` view (drops the fusion markers)."""
    return array.view(np.ndarray) if type(array) is not np.ndarray else array
