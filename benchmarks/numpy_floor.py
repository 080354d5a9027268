"""The numpy floor and the GEMM floor that ``benchmarks/speed.py`` measures layernet against.

* :class:`MLPFloor`: a hand-written numpy MLP trainer of the same maths as layernet's
  ``Dense``/``ReLU``/``Softmax``+``CrossEntropy``/``Adam``: float32, row-major
  ``(batch, features)``, every activation, gradient and scratch buffer preallocated
  (``out=`` everywhere), parameters and gradients packed into one buffer each, the
  softmax and cross-entropy fused into ``P - onehot`` by indexing (the loss value computed
  too, as every contender does), Adam written out.
* :class:`CNNFloor`: the LeNet-style CNN of case E the same way, convolutions by
  im2col (NHWC activations, ``sliding_window_view`` + one copy per layer, col2im by
  9 strided adds), max-pooling by reshape and an equality mask.
* :class:`GemmFloor`: only the matrix products of one such epoch (same shapes,
  dtype and BLAS threads, preallocated outputs): what no numpy implementation of
  the same algorithm can go below.

Each epoch callable converts uint8 rows per batch (``x / 255`` as float32), draws
one permutation per epoch and returns the number of optimiser steps it took.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

F32 = np.float32
#: Rows per forward pass when measuring inference (layernet's ``predict`` default).
INFERENCE_BATCH = 1024
Array = npt.NDArray[Any]


class PackedAdam:
    """Adam (torch/layernet defaults: betas 0.9, 0.999, eps 1e-8) on one flat buffer."""

    def __init__(self, shapes: Sequence[tuple[int, ...]], rng: np.random.Generator,
                 lr: float = 1e-3) -> None:
        sizes = [math.prod(s) for s in shapes]
        total = sum(sizes)
        self.flat = np.zeros(total, F32)
        self.grad = np.zeros(total, F32)
        self.m = np.zeros(total, F32)
        self.v = np.zeros(total, F32)
        self.tmp = np.zeros(total, F32)
        self.lr, self.t = lr, 0
        self.params: list[Array] = []
        self.grads: list[Array] = []
        offset = 0
        for shape, size in zip(shapes, sizes, strict=True):
            self.params.append(self.flat[offset:offset + size].reshape(shape))
            self.grads.append(self.grad[offset:offset + size].reshape(shape))
            offset += size

    def step(self) -> None:
        self.t += 1
        c1, c2 = 1 - 0.9 ** self.t, 1 - 0.999 ** self.t
        m, v, g, tmp = self.m, self.v, self.grad, self.tmp
        m *= F32(0.9)
        np.multiply(g, F32(0.1), out=tmp)
        m += tmp
        v *= F32(0.999)
        np.multiply(g, g, out=tmp)
        tmp *= F32(0.001)
        v += tmp
        np.sqrt(v, out=tmp)
        tmp *= F32(1 / math.sqrt(c2))
        tmp += F32(1e-8)
        np.divide(m, tmp, out=tmp)
        tmp *= F32(self.lr / c1)
        self.flat -= tmp


def _he_uniform(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...]) -> Array:
    limit = math.sqrt(6 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(F32)


def _fused_softmax_ce(z: Array, y: Array) -> float:
    """``z`` (logits, n x 10) becomes ``(softmax(z) - onehot(y)) / n`` in place; returns the mean
    cross-entropy ``logsumexp(z) - z_y`` (the loss every contender computes and reports)."""
    rows = np.arange(len(y))
    z -= z.max(axis=1, keepdims=True)
    picked = z[rows, y]
    np.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)
    loss = float(np.sum(np.log(total[:, 0]) - picked)) / len(y)
    z /= total
    z[rows, y] -= F32(1)
    z *= F32(1 / len(y))
    return loss


class Floor:
    """What the hand-written loops share: one epoch of shuffled minibatches over ``self.x``."""

    x: Any
    rng: np.random.Generator
    batch: int

    def train_step(self, rows: npt.NDArray[np.intp]) -> None:
        raise NotImplementedError

    def epoch(self) -> int:
        """Train on one fresh permutation of the rows; returns the number of steps."""
        order = self.rng.permutation(len(self.x))
        steps = 0
        for start in range(0, len(order), self.batch):
            self.train_step(order[start:start + self.batch])
            steps += 1
        return steps


class MLPFloor(Floor):
    """A Dense/ReLU MLP ending in softmax + cross-entropy, trained with Adam, by hand."""

    def __init__(self, x: Array, y: Array, sizes: Sequence[int], batch: int, seed: int = 0) -> None:
        self.x, self.y, self.sizes, self.batch = x.reshape(len(x), -1), y, list(sizes), batch
        self.rng = np.random.default_rng(seed)
        shapes: list[tuple[int, ...]] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            shapes += [(fan_in, fan_out), (fan_out,)]
        self.adam = PackedAdam(shapes, self.rng)
        for i, (fan_in, _) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.adam.params[2 * i][...] = _he_uniform(self.rng, fan_in, shapes[2 * i])
        capacity = max(batch, INFERENCE_BATCH)
        self.inputs = np.empty((batch, sizes[0]), F32)
        self.acts = [np.empty((capacity, units), F32) for units in sizes[1:]]
        self.deltas = [np.empty((batch, units), F32) for units in sizes[1:-1]]

    def forward(self, xb: Array, n: int) -> Array:
        a = xb
        layers = len(self.sizes) - 1
        for i in range(layers):
            w, b = self.adam.params[2 * i], self.adam.params[2 * i + 1]
            z = self.acts[i][:n]
            np.matmul(a, w, out=z)
            z += b
            if i < layers - 1:
                np.maximum(z, 0, out=z)
            a = z
        return a

    def train_step(self, rows: Array) -> None:
        n = len(rows)
        xb = self.inputs[:n]
        np.copyto(xb, self.x[rows], casting="unsafe")
        xb *= F32(1 / 255)
        delta = self.forward(xb, n)
        _fused_softmax_ce(delta, self.y[rows])
        params, grads = self.adam.params, self.adam.grads
        for i in range(len(self.sizes) - 2, -1, -1):
            previous = xb if i == 0 else self.acts[i - 1][:n]
            np.matmul(previous.T, delta, out=grads[2 * i])
            np.sum(delta, axis=0, out=grads[2 * i + 1])
            if i:
                below = self.deltas[i - 1][:n]
                np.matmul(delta, params[2 * i].T, out=below)
                np.copyto(below, 0, where=previous <= 0)
                delta = below
        self.adam.step()

    def predict(self, x: Array, batch: int = INFERENCE_BATCH) -> Array:
        """Logits for float32 rows ``x``, ``batch`` (at most ``INFERENCE_BATCH``) rows at a time."""
        out = np.empty((len(x), self.sizes[-1]), F32)
        for start in range(0, len(x), batch):
            chunk = x[start:start + batch].reshape(-1, self.sizes[0])
            out[start:start + len(chunk)] = self.forward(chunk, len(chunk))
        return out


def _maxpool2(z: Array, pooled: Array, mask: Array) -> None:
    """2x2 max-pool of NHWC ``z`` into ``pooled``; ``mask`` marks the maxima (ties share)."""
    n, h, w, c = z.shape
    blocks = z.reshape(n, h // 2, 2, w // 2, 2, c)
    np.max(blocks, axis=(2, 4), out=pooled)
    np.equal(blocks, pooled[:, :, None, :, None, :], out=mask.reshape(blocks.shape))


def _unpool2(dpooled: Array, mask: Array, dz: Array) -> None:
    n, h, w, c = dz.shape
    np.multiply(mask.reshape(n, h // 2, 2, w // 2, 2, c), dpooled[:, :, None, :, None, :],
                out=dz.reshape(n, h // 2, 2, w // 2, 2, c))


class CNNFloor(Floor):
    """Conv(16,3,p1) ReLU Pool Conv(32,3,p1) ReLU Pool Flatten Dense(128) ReLU Dense(10), im2col."""

    def __init__(self, x: Array, y: Array, batch: int, seed: int = 0) -> None:
        self.x, self.y, self.batch = x.reshape(len(x), 28, 28), y, batch
        self.rng = np.random.default_rng(seed)
        shapes = [(9, 16), (16,), (144, 32), (32,), (1568, 128), (128,), (128, 10), (10,)]
        self.adam = PackedAdam(shapes, self.rng)
        for i, fan_in in zip((0, 2, 4, 6), (9, 144, 1568, 128)):
            self.adam.params[i][...] = _he_uniform(self.rng, fan_in, shapes[i])
        b = max(batch, INFERENCE_BATCH)
        e = lambda *shape: np.zeros(shape, F32)  # noqa: E731
        self.xpad = e(b, 30, 30)
        self.cols1, self.z1 = e(b * 784, 9), e(b, 28, 28, 16)
        self.p1, self.mask1 = e(b, 14, 14, 16), np.zeros((b, 28, 28, 16), bool)
        self.p1pad = e(b, 16, 16, 16)
        self.cols2, self.z2 = e(b * 196, 144), e(b, 14, 14, 32)
        self.p2, self.mask2 = e(b, 7, 7, 32), np.zeros((b, 14, 14, 32), bool)
        self.h, self.logits = e(b, 128), e(b, 10)
        self.dh, self.dflat = e(b, 128), e(b, 1568)
        self.dz2, self.dcols2 = e(b, 14, 14, 32), e(b * 196, 144)
        self.dp1pad, self.dz1 = e(b, 16, 16, 16), e(b, 28, 28, 16)

    def forward(self, xb: Array, n: int) -> Array:
        """Logits ``(n, 10)`` of float32 images ``xb`` already in ``self.xpad[:n, 1:29, 1:29]``."""
        w1, b1, w2, b2, w3, b3, w4, b4 = self.adam.params
        cols1 = self.cols1[:n * 784].reshape(n, 28, 28, 3, 3)
        np.copyto(cols1, sliding_window_view(self.xpad[:n], (3, 3), axis=(1, 2)))
        z1 = self.z1[:n]
        np.matmul(self.cols1[:n * 784], w1, out=z1.reshape(n * 784, 16))
        z1 += b1
        np.maximum(z1, 0, out=z1)
        _maxpool2(z1, self.p1[:n], self.mask1[:n])
        self.p1pad[:n, 1:15, 1:15] = self.p1[:n]
        cols2 = self.cols2[:n * 196].reshape(n, 14, 14, 16, 3, 3)
        np.copyto(cols2, sliding_window_view(self.p1pad[:n], (3, 3), axis=(1, 2)))
        z2 = self.z2[:n]
        np.matmul(self.cols2[:n * 196], w2, out=z2.reshape(n * 196, 32))
        z2 += b2
        np.maximum(z2, 0, out=z2)
        _maxpool2(z2, self.p2[:n], self.mask2[:n])
        h = self.h[:n]
        np.matmul(self.p2[:n].reshape(n, 1568), w3, out=h)
        h += b3
        np.maximum(h, 0, out=h)
        logits = self.logits[:n]
        np.matmul(h, w4, out=logits)
        logits += b4
        return logits

    def train_step(self, rows: Array) -> None:
        n = len(rows)
        image = self.xpad[:n, 1:29, 1:29]
        np.copyto(image, self.x[rows], casting="unsafe")
        image *= F32(1 / 255)
        delta = self.forward(image, n)
        _fused_softmax_ce(delta, self.y[rows])
        w1, b1, w2, b2, w3, b3, w4, b4 = self.adam.params
        g1, gb1, g2, gb2, g3, gb3, g4, gb4 = self.adam.grads
        h = self.h[:n]
        np.matmul(h.T, delta, out=g4)
        np.sum(delta, axis=0, out=gb4)
        dh = self.dh[:n]
        np.matmul(delta, w4.T, out=dh)
        np.copyto(dh, 0, where=h <= 0)
        flat = self.p2[:n].reshape(n, 1568)
        np.matmul(flat.T, dh, out=g3)
        np.sum(dh, axis=0, out=gb3)
        dflat = self.dflat[:n]
        np.matmul(dh, w3.T, out=dflat)
        dz2 = self.dz2[:n]
        _unpool2(dflat.reshape(n, 7, 7, 32), self.mask2[:n], dz2)
        np.copyto(dz2, 0, where=self.z2[:n] <= 0)
        dz2m = dz2.reshape(n * 196, 32)
        np.matmul(self.cols2[:n * 196].T, dz2m, out=g2)
        np.sum(dz2m, axis=0, out=gb2)
        dcols2 = self.dcols2[:n * 196]
        np.matmul(dz2m, w2.T, out=dcols2)
        dcols = dcols2.reshape(n, 14, 14, 16, 3, 3)
        dpad = self.dp1pad[:n]
        dpad[...] = 0
        for kh in range(3):
            for kw in range(3):
                dpad[:, kh:kh + 14, kw:kw + 14, :] += dcols[:, :, :, :, kh, kw]
        dz1 = self.dz1[:n]
        _unpool2(dpad[:, 1:15, 1:15, :], self.mask1[:n], dz1)
        np.copyto(dz1, 0, where=self.z1[:n] <= 0)
        dz1m = dz1.reshape(n * 784, 16)
        np.matmul(self.cols1[:n * 784].T, dz1m, out=g1)
        np.sum(dz1m, axis=0, out=gb1)
        self.adam.step()

    def predict(self, x: Array, batch: int = INFERENCE_BATCH) -> Array:
        """Logits for float32 images ``x`` ``(n, 1, 28, 28)``, ``batch`` (at most
        ``INFERENCE_BATCH``) at a time."""
        out = np.empty((len(x), 10), F32)
        for start in range(0, len(x), batch):
            chunk = x[start:start + batch].reshape(-1, 28, 28)
            self.xpad[:len(chunk), 1:29, 1:29] = chunk
            out[start:start + len(chunk)] = self.forward(chunk, len(chunk))
        return out


# -- the GEMM floor ------------------------------------------------------------------------------

#: One product: (rows of A, inner, columns of B, A transposed in memory, B transposed in memory).
Gemm = tuple[int, int, int, bool, bool]


def mlp_gemms(sizes: Sequence[int], n: int) -> list[Gemm]:
    """The products of one training step of an MLP on a batch of ``n`` rows (row-major):
    ``X·W`` per layer, then ``Xᵀ·dY`` per layer and ``dY·Wᵀ`` for every layer but the first."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = [(n, fan_in, fan_out, False, False) for fan_in, fan_out in pairs]
    backward: list[Gemm] = []
    for i in range(len(pairs) - 1, -1, -1):
        fan_in, fan_out = pairs[i]
        backward.append((fan_in, n, fan_out, True, False))
        if i:
            backward.append((n, fan_out, fan_in, False, True))
    return forward + backward


def cnn_gemms(n: int) -> list[Gemm]:
    """The im2col products of one training step of case E's CNN on ``n`` images."""
    return [(n * 784, 9, 16, False, False), (n * 196, 144, 32, False, False),
            *mlp_gemms([1568, 128, 10], n)[:2],
            *mlp_gemms([1568, 128, 10], n)[2:],
            (144, n * 196, 32, True, False), (n * 196, 32, 144, False, True),
            (9, n * 784, 16, True, False)]


class GemmFloor:
    """The matrix products of one epoch alone: ``gemms(n)`` per step, ``ceil(rows / batch)`` steps."""

    def __init__(self, gemms: Any, rows: int, batch: int, dtype: Any = F32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.plan: list[tuple[int, list[tuple[Array, Array, Array]]]] = []
        full, last = divmod(rows, batch)
        for n, count in ((batch, full), (last, 1 if last else 0)):
            if count == 0:
                continue
            products = []
            for m, k, c, ta, tb in gemms(n):
                a = rng.random((k, m) if ta else (m, k), dtype=dtype)
                b = rng.random((c, k) if tb else (k, c), dtype=dtype)
                products.append((a.T if ta else a, b.T if tb else b, np.empty((m, c), dtype)))
            self.plan.append((count, products))

    def epoch(self) -> int:
        steps = 0
        for count, products in self.plan:
            for _ in range(count):
                for a, b, out in products:
                    np.matmul(a, b, out=out)
                steps += 1
        return steps
