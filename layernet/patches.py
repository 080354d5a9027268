"""Sliding-window patches of images: im2col, its adjoint col2im, and padding helpers.

The convolution and pooling layers work on images stored *channel-major*,
``(channels, batch, height, width)``: the layers transpose their
``(batch, channels, height, width)`` inputs to that layout (often for free,
because the previous convolution already produced it) so that the batch is
contiguous inside each row of the patch matrix.

Patch matrix ("columns"):

* :func:`im2col` turns a padded image ``xp`` of shape ``(C, N, Hp, Wp)`` into
  ``cols`` of shape ``(C·kh·kw, N·Ho·Wo)`` with

  ``cols[(c, i, j), (n, p, q)] = xp[c, n, p·sh + i·dh, q·sw + j·dw]``,

  so a convolution is one matrix product ``W.reshape(F, C·kh·kw) @ cols``.
  It reads through a strided view (:func:`window_view`, no copy) and makes one
  contiguous copy.
* :func:`col2im` is its adjoint (transpose): it scatter-adds every entry of
  ``cols`` back to the pixel it was read from. For every ``xp`` and ``cols``
  of matching shapes

  ``<im2col(xp), cols> = <xp, col2im(cols, xp.shape, ...)>``,

  which is exactly what back-propagation through ``im2col`` needs. Pixels read
  by several windows (overlaps) receive the sum of their entries; pixels read by
  none (stride larger than the kernel) receive zero.

All functions are plain numpy; none modifies its inputs.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .typing import Array

#: ``((top, bottom), (left, right))`` padding of the two spatial axes.
Pads = tuple[tuple[int, int], tuple[int, int]]
#: A pair of integers for the (height, width) axes.
Pair = tuple[int, int]


def conv_output_size(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """Length of a sliding-window output along one axis.

    ``floor((size + padding − dilation·(kernel − 1) − 1) / stride) + 1``, with
    ``padding`` the total (both sides) padding; zero or negative when the
    dilated kernel does not fit.
    """
    return (size + padding - dilation * (kernel - 1) - 1) // stride + 1


def pad_spatial(x: Array, pads: Pads, value: float = 0.0) -> Array:
    """``x`` ``(..., H, W)`` padded on its last two axes with ``value``.

    Returns ``x`` itself (not a copy) when every pad is zero; otherwise a new
    array ``(..., H + top + bottom, W + left + right)`` with the same dtype.
    """
    (top, bottom), (left, right) = pads
    if top == bottom == left == right == 0:
        return x
    *lead, height, width = x.shape
    out = np.full((*lead, height + top + bottom, width + left + right), value, dtype=x.dtype)
    out[..., top:top + height, left:left + width] = x
    return out


def unpad_spatial(x: Array, pads: Pads) -> Array:
    """The inverse of :func:`pad_spatial`: a view of ``x`` without its border."""
    (top, bottom), (left, right) = pads
    height, width = x.shape[-2:]
    return x[..., top:height - bottom, left:width - right]


def window_view(xp: Array, kernel: Pair, stride: Pair, dilation: Pair, out_size: Pair) -> Array:
    """A read-only strided view ``(C, kh, kw, N, Ho, Wo)`` of the windows of ``xp`` ``(C, N, Hp, Wp)``.

    ``view[c, i, j, n, p, q] = xp[c, n, p·sh + i·dh, q·sw + j·dw]``; no data is copied.
    """
    sc, sn, sy, sx = xp.strides
    channels, batch = xp.shape[:2]
    shape = (channels, kernel[0], kernel[1], batch, out_size[0], out_size[1])
    strides = (sc, sy * dilation[0], sx * dilation[1], sn, sy * stride[0], sx * stride[1])
    view: Array = as_strided(xp, shape=shape, strides=strides, writeable=False)
    return view


def im2col(xp: Array, kernel: Pair, stride: Pair, dilation: Pair, out_size: Pair,
           out: Array | None = None) -> Array:
    """The patch matrix ``(C·kh·kw, N·Ho·Wo)`` of the padded channel-major image ``xp`` ``(C, N, Hp, Wp)``.

    ``cols[(c, i, j), (n, p, q)] = xp[c, n, p·sh + i·dh, q·sw + j·dw]`` (rows ordered
    ``c, i, j`` like a PyTorch weight ``(F, C, kh, kw)`` flattened; columns ordered
    ``n, p, q``). Written into ``out`` when given (a C-contiguous workspace of that
    shape and dtype, reused across batches), otherwise into a new array.
    """
    channels, batch = xp.shape[:2]
    rows = channels * kernel[0] * kernel[1]
    columns = batch * out_size[0] * out_size[1]
    if out is None or out.shape != (rows, columns) or out.dtype != xp.dtype:
        out = np.empty((rows, columns), dtype=xp.dtype)
    view = window_view(xp, kernel, stride, dilation, out_size)
    np.copyto(out.reshape(view.shape), view)
    return out


def col2im(cols: Array, image_shape: tuple[int, int, int, int], kernel: Pair, stride: Pair,
           dilation: Pair, out_size: Pair) -> Array:
    """The adjoint of :func:`im2col`: scatter-add ``cols`` ``(C·kh·kw, N·Ho·Wo)`` into a new
    zero image of ``image_shape`` ``(C, N, Hp, Wp)``.

    ``out[c, n, p·sh + i·dh, q·sw + j·dw] += cols[(c, i, j), (n, p, q)]`` for every
    entry, so ``<im2col(xp), cols> == <xp, col2im(cols)>``. Implemented as one
    vectorised strided add per kernel offset ``(i, j)`` (``kh·kw`` adds of
    ``C·N·Ho·Wo`` values each), which measured faster than ``np.add.at`` with
    precomputed indices.
    """
    channels, batch, _, _ = image_shape
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
    out = np.zeros(image_shape, dtype=cols.dtype)
    blocks = cols.reshape(channels, kh, kw, batch, ho, wo)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            out[:, :, top:top + sh * (ho - 1) + 1:sh, left:left + sw * (wo - 1) + 1:sw] += blocks[:, i, j]
    return out


def col2im_add_at(cols: Array, image_shape: tuple[int, int, int, int], kernel: Pair, stride: Pair,
                  dilation: Pair, out_size: Pair) -> Array:
    """:func:`col2im` with one ``np.add.at`` scatter (reference implementation, used in tests)."""
    channels, batch, height, width = image_shape
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
    c = np.arange(channels).reshape(-1, 1, 1, 1, 1, 1)
    i = np.arange(kh).reshape(1, -1, 1, 1, 1, 1)
    j = np.arange(kw).reshape(1, 1, -1, 1, 1, 1)
    n = np.arange(batch).reshape(1, 1, 1, -1, 1, 1)
    p = np.arange(ho).reshape(1, 1, 1, 1, -1, 1)
    q = np.arange(wo).reshape(1, 1, 1, 1, 1, -1)
    flat = ((c * batch + n) * height + p * sh + i * dh) * width + q * sw + j * dw
    out = np.zeros(channels * batch * height * width, dtype=cols.dtype)
    np.add.at(out, np.broadcast_to(flat, (channels, kh, kw, batch, ho, wo)).reshape(-1), cols.reshape(-1))
    return out.reshape(image_shape)
