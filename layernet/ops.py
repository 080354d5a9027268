"""Numerically stable array functions shared by layers and losses (no state, no classes)."""

from __future__ import annotations

from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

from .typing import Array

Buffer = TypeVar("Buffer", bound=npt.NDArray[Any])


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


def reuse(buffer: Buffer, like: npt.NDArray[Any], dtype: np.dtype[Any] | None = None, *,
          zero: bool = False) -> Buffer:
    """A work array shaped and laid out in memory like ``like`` (of ``dtype``, default
    ``like``'s): ``buffer`` itself when it already is one, else a new one (zero-filled when
    ``zero``, else uninitialised). Layers keep such buffers between batches of one shape."""
    dtype = like.dtype if dtype is None else dtype
    if buffer.shape == like.shape and buffer.dtype == dtype and buffer.strides == tuple(
            s // like.itemsize * dtype.itemsize for s in like.strides):
        return buffer
    return cast(Buffer, (np.zeros_like if zero else np.empty_like)(like, dtype=dtype))
