"""Convolution, pooling and batch-norm layers: gradient checks, PyTorch parity, ties, configs, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

import layernet
from layernet.errors import InvalidArgument, ShapeError
from layernet.layers.base import Layer, layer_config, layer_from_config
from layernet.layers.conv import Conv1D, Conv2D
from layernet.layers.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from layernet.patches import col2im, col2im_add_at, im2col

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel:UserWarning")

RNG = np.random.default_rng(1234)
L = TypeVar("L", bound=Layer)

# (channels, height, width), layer arguments: odd sizes, strides, pads, dilations, 'same'/'valid'.
CONV2D_CASES: list[tuple[tuple[int, int, int], dict[str, Any]]] = [
    ((1, 7, 7), dict(filters=4, kernel_size=3)),
    ((3, 9, 8), dict(filters=5, kernel_size=3, padding=1)),
    ((2, 10, 7), dict(filters=3, kernel_size=(2, 3), stride=(2, 1), padding=(1, 2))),
    ((2, 11, 9), dict(filters=2, kernel_size=3, stride=2, dilation=2, padding=2)),
    ((3, 8, 9), dict(filters=4, kernel_size=4, padding="same")),
    ((3, 8, 9), dict(filters=4, kernel_size=(2, 3), padding="same", dilation=(2, 1))),
    ((2, 6, 7), dict(filters=3, kernel_size=(3, 2), padding="valid", use_bias=False)),
    ((1, 5, 5), dict(filters=2, kernel_size=5, stride=3)),
    ((2, 9, 9), dict(filters=3, kernel_size=1, stride=(3, 2), padding=(0, 1))),
    ((4, 6, 6), dict(filters=3, kernel_size=2, stride=3)),   # stride > kernel: pixels read by no window
]

CONV1D_CASES: list[tuple[tuple[int, int], dict[str, Any]]] = [
    ((2, 11), dict(filters=3, kernel_size=3)),
    ((3, 12), dict(filters=2, kernel_size=4, stride=2, padding=1, dilation=2)),
    ((1, 9), dict(filters=2, kernel_size=4, padding="same")),
    ((2, 8), dict(filters=1, kernel_size=2, stride=3, use_bias=False)),
]


def build(layer: L, shape: tuple[int, ...], dtype: Any = np.float64) -> L:
    layer.build(shape, rng=np.random.default_rng(0), dtype=dtype)
    return layer


def copy_into_torch(module: Any, layer: Layer) -> None:
    with torch.no_grad():
        for p in layer.parameters():
            getattr(module, p.name).copy_(torch.from_numpy(p.value))


def torch_parity(layer: Layer, module: Any, shape: tuple[int, ...], batch: int = 3,
                 x: np.ndarray | None = None, training: bool = False) -> dict[str, float]:
    """Max abs differences of forward, input gradient and every parameter gradient (float64)."""
    if x is None:
        x = RNG.standard_normal((batch, *shape))
    for p in layer.parameters():
        p.grad[...] = 0
    y = layer.forward(x, training=training)
    dy = RNG.standard_normal(y.shape)
    dx = layer.backward(dy)
    xt = torch.from_numpy(x).requires_grad_(True)
    module.train(training)
    yt = module(xt)
    yt.backward(torch.from_numpy(dy))
    diffs = {"forward": float(np.abs(yt.detach().numpy() - y).max()),
             "input": float(np.abs(xt.grad.numpy() - dx).max())}
    for p in layer.parameters():
        diffs[p.name] = float(np.abs(getattr(module, p.name).grad.numpy() - p.grad).max())
    return diffs


def torch_conv(layer: Conv2D | Conv1D, channels: int, args: dict[str, Any]) -> Any:
    cls = torch.nn.Conv2d if isinstance(layer, Conv2D) else torch.nn.Conv1d
    module = cls(channels, args["filters"], args["kernel_size"], stride=args.get("stride", 1),
                 padding=args.get("padding", 0), dilation=args.get("dilation", 1),
                 bias=args.get("use_bias", True)).double()
    copy_into_torch(module, layer)
    return module


# -- patches -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel, stride, dilation", [((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (1, 2)),
                                                     ((1, 2), (3, 3), (1, 1))])
def test_col2im_is_the_adjoint_of_im2col(kernel: Any, stride: Any, dilation: Any) -> None:
    xp = RNG.standard_normal((2, 3, 9, 10))
    out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip((9, 10), kernel, stride, dilation))
    cols = RNG.standard_normal((2 * kernel[0] * kernel[1], 3 * out[0] * out[1]))
    lhs = float(np.sum(im2col(xp, kernel, stride, dilation, out) * cols))
    back = col2im(cols, xp.shape, kernel, stride, dilation, out)
    assert lhs == pytest.approx(float(np.sum(xp * back)), rel=1e-12)
    np.testing.assert_allclose(back, col2im_add_at(cols, xp.shape, kernel, stride, dilation, out),
                               rtol=0, atol=1e-12)


# -- convolution -------------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("shape, args", CONV2D_CASES)
def test_conv2d_matches_torch(shape: tuple[int, int, int], args: dict[str, Any]) -> None:
    layer = build(Conv2D(**args), shape)
    assert layer.weight.shape == (args["filters"], shape[0], *np.broadcast_to(args["kernel_size"], 2))
    diffs = torch_parity(layer, torch_conv(layer, shape[0], args), shape)
    assert max(diffs.values()) <= 1e-10, diffs


@pytest.mark.torch
@pytest.mark.parametrize("shape, args", CONV1D_CASES)
def test_conv1d_matches_torch(shape: tuple[int, int], args: dict[str, Any]) -> None:
    layer = build(Conv1D(**args), shape)
    diffs = torch_parity(layer, torch_conv(layer, shape[0], args), shape)
    assert max(diffs.values()) <= 1e-10, diffs


@pytest.mark.parametrize("shape, args", CONV2D_CASES[:6])
def test_conv2d_gradcheck(shape: tuple[int, int, int], args: dict[str, Any]) -> None:
    layernet.gradcheck(Conv2D(**args), shape, batch_size=2)


@pytest.mark.parametrize("shape, args", CONV1D_CASES)
def test_conv1d_gradcheck(shape: tuple[int, int], args: dict[str, Any]) -> None:
    layernet.gradcheck(Conv1D(**args), shape, batch_size=2)


def test_conv_accumulates_gradients_and_keeps_inputs() -> None:
    layer = build(Conv2D(3, 3, padding=1), (2, 5, 5))
    x = RNG.standard_normal((2, 2, 5, 5))
    before = x.copy()
    dy = RNG.standard_normal((2, 3, 5, 5))
    layer.forward(x, training=True)
    layer.backward(dy)
    once = layer.weight.grad.copy()
    layer.forward(x, training=True)
    layer.backward_parameters(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-12)
    np.testing.assert_array_equal(x, before)


def test_conv_reuses_its_workspace_across_batches() -> None:
    layer = build(Conv2D(2, 3), (1, 6, 6))
    a, b = RNG.standard_normal((2, 4, 1, 6, 6))
    ya = layer.forward(a).copy()
    layer.forward(b)
    np.testing.assert_allclose(layer.forward(a), ya, rtol=0, atol=0)


# -- pooling -------------------------------------------------------------------------------------------
POOL_CASES: list[tuple[tuple[int, int, int], dict[str, Any]]] = [
    ((2, 8, 8), dict(pool_size=2)),
    ((3, 9, 7), dict(pool_size=2)),                                 # odd sizes: last row/column dropped
    ((2, 9, 9), dict(pool_size=3, stride=2, padding=1)),
    ((2, 7, 8), dict(pool_size=(2, 3), stride=(1, 2), padding=(1, 0))),
    ((1, 6, 6), dict(pool_size=3, stride=1)),
    ((2, 7, 7), dict(pool_size=2, stride=3)),
]


def torch_pool(layer: Layer, args: dict[str, Any]) -> Any:
    cls = torch.nn.MaxPool2d if isinstance(layer, MaxPool2D) else torch.nn.AvgPool2d
    return cls(args["pool_size"], stride=args.get("stride"), padding=args.get("padding", 0))


@pytest.mark.torch
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("shape, args", POOL_CASES)
def test_pooling_matches_torch(cls: type[Layer], shape: tuple[int, int, int], args: dict[str, Any]) -> None:
    layer = build(cls(**args), shape)
    diffs = torch_parity(layer, torch_pool(layer, args), shape)
    assert max(diffs.values()) <= 1e-10, diffs


@pytest.mark.torch
def test_global_avg_pool_matches_torch() -> None:
    module = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    diffs = torch_parity(build(GlobalAvgPool2D(), (3, 5, 6)), module, (3, 5, 6))
    assert max(diffs.values()) <= 1e-10, diffs


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("shape, args", POOL_CASES)
def test_pooling_gradcheck(cls: type[Layer], shape: tuple[int, int, int], args: dict[str, Any]) -> None:
    layernet.gradcheck(cls(**args), shape, batch_size=2)


def test_global_avg_pool_gradcheck() -> None:
    layernet.gradcheck(GlobalAvgPool2D(), (3, 4, 5))


def test_max_pool_sends_a_tied_window_to_its_first_maximum() -> None:
    layer = build(MaxPool2D(2), (1, 2, 4))
    x = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.5, 2.0, 2.0]]]])
    layer.forward(x)
    dx = layer.backward(np.array([[[[3.0, 5.0]]]]))
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]]]])


@pytest.mark.torch
@pytest.mark.parametrize("args", [dict(pool_size=2), dict(pool_size=3, stride=2, padding=1),
                                  dict(pool_size=3, stride=1), dict(pool_size=(2, 4), stride=(2, 3))])
def test_max_pool_ties_on_real_mnist_match_torch(mnist_dir: Path, args: dict[str, Any]) -> None:
    """MNIST's blank background makes most windows ties; each must send its gradient to one input."""
    images = layernet.data.load_mnist_dir(mnist_dir).train.x[:48]
    x = images.reshape(-1, 1, 28, 28).astype(np.float64) / 255
    raw = torch_parity(build(MaxPool2D(**args), (1, 28, 28)), torch_pool(MaxPool2D(2), args),
                       (1, 28, 28), x=x)
    assert max(raw.values()) <= 1e-10, raw
    # After a convolution and ReLU (the zeros of the ReLU tie too).
    conv = build(Conv2D(4, 3, padding=1), (1, 28, 28))
    features = np.maximum(conv.forward(x), 0)
    assert np.mean(features == 0) > 0.3
    after = torch_parity(build(MaxPool2D(**args), (4, 28, 28)), torch_pool(MaxPool2D(2), args),
                         (4, 28, 28), x=np.ascontiguousarray(features))
    assert max(after.values()) <= 1e-10, after
