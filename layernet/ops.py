"""Numerically stable array functions shared by layers and losses (no state, no classes)."""

from __future__ import annotations

import numpy as np

from .typing import Array


def softmax(x: Array) -> Array:
    """Row-wise softmax over the last axis, stable for any finite input. ``(..., k) -> (..., k)``.

    ``exp(x − max x) / Σ exp(x − max x)``, computed in one new array.
    """
    y: Array = x - x.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def log_softmax(x: Array) -> Array:
    """``x − logsumexp(x)`` over the last axis, finite for any finite input. ``(..., k) -> (..., k)``."""
    shifted: Array = x - x.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


def sigmoid(x: Array) -> Array:
    """Element-wise logistic function ``1 / (1 + exp(−x))`` without overflow for large ``|x|``."""
    e = np.exp(-np.abs(x))
    out: Array = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out


def softplus_of_negative_abs(x: Array) -> Array:
    """``log(1 + exp(−|x|))`` element-wise, the stable tail of binary cross-entropy on logits."""
    out: Array = np.log1p(np.exp(-np.abs(x)))
    return out
