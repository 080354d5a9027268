"""Softmax + cross-entropy fusion, done the way Keras does it.

``Softmax.forward`` returns its probabilities as :class:`SoftmaxProbabilities`,
an ``ndarray`` that also carries the logits it came from. ``CrossEntropy``
recognises it, computes the loss from the logits with log-sum-exp (finite
even for logits of ±1e4) and returns from ``backward`` a
:class:`LogitGradient`: the exact ``(P − Y)/m``, already the gradient with
respect to the logits. ``Softmax.backward`` passes a ``LogitGradient``
through unchanged and applies the true Jacobian-vector product to any other
gradient. Any operation on the arrays (slicing, arithmetic) yields plain
behaviour, so the fusion can never apply to values it does not describe.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import Array


class SoftmaxProbabilities(np.ndarray[Any, np.dtype[Any]]):
    """Softmax output ``P`` of shape ``(batch, classes)``; ``logits`` is the input it came from."""

    logits: Array | None = None

    def __array_finalize__(self, obj: Any) -> None:
        self.logits = None


class LogitGradient(np.ndarray[Any, np.dtype[Any]]):
    """A gradient that is already ``dL/dlogits`` (shape ``(batch, classes)``); Softmax passes it through."""


def mark_probabilities(probs: Array, logits: Array) -> Array:
    """View ``probs`` as :class:`SoftmaxProbabilities` remembering ``logits``."""
    marked = probs.view(SoftmaxProbabilities)
    marked.logits = logits
    return marked


def logits_of(probs: Array) -> Array | None:
    """The logits behind ``probs`` if it is an unmodified Softmax output, else None."""
    return probs.logits if isinstance(probs, SoftmaxProbabilities) else None


def mark_logit_gradient(grad: Array) -> Array:
    """View ``grad`` as a :class:`LogitGradient`."""
    return grad.view(LogitGradient)


def is_logit_gradient(grad: Array) -> bool:
    """True if ``grad`` was produced by a fused loss and is already ``dL/dlogits``."""
    return isinstance(grad, LogitGradient)


def plain(array: Array) -> Array:
    """``array`` as a plain ``ndarray`` view (drops the fusion markers)."""
    return array.view(np.ndarray) if type(array) is not np.ndarray else array
