"""Array functions shared by layers and losses (no state, no classes): numerically stable
softmax and friends, and the matrix product the Dense layer runs in row blocks."""

from __future__ import annotations

import itertools
import math

import numpy as np

from .typing import Array


def softmax(x: Array) -> Array:
    """Row-wise softmax over the last axis, stable for any finite input. ``(..., k) -> (..., k)``.

    ``exp(x − max x) / Σ exp(x − max x)`` in a new array; a ``(batch, k)`` input with few
    classes is worked on in a class-major copy first (:func:`softmax_terms`).
    """
    if x.ndim == 2:
        return np.ascontiguousarray(softmax_terms(x)[0])
    y: Array = x - x.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


#: Up to this many classes, :func:`softmax_terms` works class-major.
FEW_CLASSES = 16


def softmax_terms(x: Array) -> tuple[Array, Array, Array]:
    """``(P, m, s)`` for rows ``x`` ``(batch, k)``: the softmax ``P`` ``(batch, k)``, each row's
    maximum ``m`` ``(batch,)`` and ``s = Σ exp(x − m)`` ``(batch,)``, from one exponential
    (``log s + m`` is the row's log-sum-exp).

    With at most :data:`FEW_CLASSES` classes the work runs on a copy of ``xᵀ`` ``(k, batch)``,
    where each row's maximum and sum run over contiguous memory: numpy reduces a ``(1024, 10)``
    array along its short axis 2.5× slower (softmax 86 against 35 µs). ``P`` is then that
    copy's transposed view (column-major); with more classes the class-major form is slower
    (3× at 64) and ``P`` is row-major.
    """
    class_major = x.shape[1] <= FEW_CLASSES
    axis = 0 if class_major else 1
    work: Array = x.T.copy() if class_major else x.copy()
    shift = work.max(axis=axis, keepdims=True)
    work -= shift
    np.exp(work, out=work)
    total = work.sum(axis=axis, keepdims=True)
    work /= total
    return (work.T if class_major else work), shift.ravel(), total.ravel()


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


#: The most multiply-adds (rows · inner · columns) of one product OpenBLAS hands to its
#: small-matrix kernels, which skip packing the operands (OpenBLAS ≥ 0.3.16 on AVX-512 CPUs,
#: the kernels numpy's wheels select there). A float32 (60,000 × 784) · (784 × 10) product
#: takes 22 ms in blocks of 127 rows and 39-42 ms in one call; elsewhere blocks cost the
#: same as one call (measured with the Haswell kernels), give or take a microsecond a block.
SMALL_PRODUCT = 1_000_000
#: Blocks of fewer rows than this are not worth their Python overhead.
MIN_BLOCK_ROWS = 32


def matmul(x: Array, w: Array) -> Array:
    """``x · w`` for ``x`` ``(rows, inner)`` and ``w`` ``(inner, columns)``: ``(rows, columns)``.

    A product too large for the small-matrix kernels (:data:`SMALL_PRODUCT`) whose ``w`` is
    narrow enough for blocks of at least :data:`MIN_BLOCK_ROWS` rows to fit them is computed
    in equal row blocks that each fit; any other product is one ``x @ w``. Each output row is
    the same dot products either way; only the rounding of their sums may differ.
    """
    rows, per_row = x.shape[0], w.shape[0] * w.shape[1]
    block = SMALL_PRODUCT // max(per_row, 1)
    if rows * per_row <= SMALL_PRODUCT or block < MIN_BLOCK_ROWS:
        product: Array = x @ w
        return product
    out: Array = np.empty((rows, w.shape[1]), dtype=np.result_type(x, w))
    blocks = math.ceil(rows / block)
    for start, stop in itertools.pairwise(rows * b // blocks for b in range(blocks + 1)):
        np.matmul(x[start:stop], w, out=out[start:stop])
    return out


#: Below this many columns of ``dy`` (and from :data:`TALL_PRODUCT` elements of ``x`` up),
#: :func:`matmul_tn` computes ``xᵀ · dy`` as ``(dyᵀ · x)ᵀ``: OpenBLAS's kernels are slow on
#: a product only ten columns wide. For 784 × 10 weights that takes 0.74× the time at 60,000
#: rows and 0.86× at 256 rows; at 16 columns or more, or on small ``x``, it is slower.
NARROW_COLUMNS = 16
TALL_PRODUCT = 100_000


def matmul_tn(out: Array, x: Array, dy: Array, *, add: bool) -> None:
    """``out += xᵀ · dy`` (``add``) or ``out = xᵀ · dy`` for ``x`` ``(rows, inner)``, ``dy``
    ``(rows, columns)`` and ``out`` ``(inner, columns)``: a weight gradient. Narrow, tall
    products are computed transposed (see :data:`NARROW_COLUMNS`); the sum is the same, up to
    rounding. Overwriting writes the product straight into ``out`` (no temporary): for a
    784 × 256 gradient of 32 rows 159 µs against 184 µs for adding."""
    if dy.shape[1] < NARROW_COLUMNS and x.size >= TALL_PRODUCT:
        product = dy.T @ x
        if add:
            out.T[...] += product
        else:
            out.T[...] = product
    elif add:
        out += x.T @ dy
    else:
        np.matmul(x.T, dy, out=out)
