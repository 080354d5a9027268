"""Convolution, pooling and batch-norm layers: gradient checks, PyTorch parity, ties, configs, errors."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import pytest

import layernet
from layernet.errors import InvalidArgument, ShapeError
from layernet.layers.base import Layer, layer_config, layer_from_config
from layernet.layers.conv import Conv1D, Conv2D
from layernet.layers.normalization import BatchNorm
from layernet.layers.pooling import AvgPool2D, GlobalAvgPool2D, MaxPool2D
from layernet.patches import (
    col2im,
    col2im_add_at,
    col2im_product,
    im2col,
    unpad_spatial,
)

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
    xp = RNG.standard_normal((2, 9, 10, 3))       # (C, Hp, Wp, N)
    out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip((9, 10), kernel, stride, dilation))
    cols = RNG.standard_normal((2 * kernel[0] * kernel[1], out[0] * out[1] * 3))
    xi = xp.transpose(0, 3, 1, 2)                  # the definition, by explicit loops
    expected = np.array([[xi[c, n, p * stride[0] + i * dilation[0], q * stride[1] + j * dilation[1]]
                          for p in range(out[0]) for q in range(out[1]) for n in range(3)]
                         for c in range(2) for i in range(kernel[0]) for j in range(kernel[1])])
    np.testing.assert_array_equal(im2col(xp, kernel, stride, dilation, out), expected)
    lhs = float(np.sum(im2col(xp, kernel, stride, dilation, out) * cols))
    back = col2im(cols, xp.shape, kernel, stride, dilation, out)
    assert lhs == pytest.approx(float(np.sum(xp * back)), rel=1e-12)
    np.testing.assert_allclose(back, col2im_add_at(cols, xp.shape, kernel, stride, dilation, out),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("image, kernel, stride, dilation, pads", [
    ((3, 7, 9, 2), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((2, 10, 7, 3), (2, 3), (2, 1), (1, 1), ((1, 1), (2, 2))),
    ((2, 11, 9, 2), (3, 3), (2, 2), (2, 2), ((2, 2), (2, 2))),
    ((1, 5, 5, 2), (5, 5), (3, 3), (1, 1), ((0, 0), (0, 0))),
    ((4, 6, 6, 2), (2, 2), (3, 3), (1, 1), ((0, 0), (0, 0))),    # pixels read by no window
    ((3, 8, 9, 2), (4, 4), (1, 1), (1, 1), ((1, 2), (1, 2))),    # 'same' with an even kernel
    ((2, 9, 9, 3), (1, 1), (3, 2), (1, 1), ((0, 0), (1, 1))),    # taps that only read padding
])
@pytest.mark.parametrize("block", [1, 40, 1 << 18])
def test_col2im_product_is_the_unpadded_col2im_of_the_product(image: Any, kernel: Any, stride: Any,
                                                              dilation: Any, pads: Any, block: int) -> None:
    channels, height, width, batch = image
    padded = (channels, height + sum(pads[0]), width + sum(pads[1]), batch)
    out = tuple((n - d * (k - 1) - 1) // s + 1
                for n, k, s, d in zip(padded[1:3], kernel, stride, dilation))
    weight_t = RNG.standard_normal((channels * kernel[0] * kernel[1], 3))
    dy = RNG.standard_normal((3, out[0] * out[1] * batch))
    expected = unpad_spatial(col2im(weight_t @ dy, padded, kernel, stride, dilation, out), pads, axes=(1, 2))
    got = col2im_product(weight_t, dy, image, pads, kernel, stride, dilation, out, block=block)
    assert got.shape == image
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


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


def test_max_pool_backward_is_independent_of_memory_layouts() -> None:
    """A batch-innermost input (after a convolution) and a sample-major dY (from Flatten) give the
    same gradient as plain C-contiguous arrays."""
    x = np.maximum(RNG.standard_normal((3, 4, 6, 6)), 0.5)        # ties at 0.5
    dy = RNG.standard_normal((3, 4, 3, 3))
    plain = build(MaxPool2D(2), (4, 6, 6))
    plain.forward(x)
    expected = plain.backward(dy)
    for layout in ["batch-innermost", "sample-major"]:
        layer = build(MaxPool2D(2), (4, 6, 6))
        y = layer.forward(np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2))
        assert y.strides[0] < y.strides[3]                          # kept the input's layout
        grad = dy if layout == "sample-major" else np.ascontiguousarray(dy.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
        np.testing.assert_array_equal(layer.backward(grad), expected)


@pytest.mark.torch
def test_max_pool_with_more_than_256_window_offsets_matches_torch() -> None:
    """Windows over 256 pixels record their first-maximum offset in uint16."""
    x = np.maximum(RNG.standard_normal((2, 1, 40, 40)), 0.3)
    layer = build(MaxPool2D(17, stride=3, padding=8), (1, 40, 40))
    diffs = torch_parity(layer, torch.nn.MaxPool2d(17, stride=3, padding=8), (1, 40, 40), x=x)
    assert layer._argmax is not None and layer._argmax.dtype == np.uint16
    assert max(diffs.values()) <= 1e-10, diffs


@functools.cache
def mnist_test_digits(mnist_dir: Path) -> npt.NDArray[np.uint8]:
    """The 10,000 real MNIST test images ``(10000, 28, 28)``, read once."""
    return layernet.data.read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")


@pytest.mark.torch
@pytest.mark.parametrize("args", [dict(pool_size=2), dict(pool_size=3, stride=2, padding=1),
                                  dict(pool_size=3, stride=1), dict(pool_size=(2, 4), stride=(2, 3))])
def test_max_pool_ties_on_real_mnist_match_torch(mnist_dir: Path, args: dict[str, Any]) -> None:
    """MNIST's blank background makes most windows ties; each must send its gradient to one input."""
    x = mnist_test_digits(mnist_dir)[:48].reshape(-1, 1, 28, 28).astype(np.float64) / 255
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


# -- batch normalisation -------------------------------------------------------------------------------
BN_SHAPES = [(5,), (3, 4, 5), (2, 7)]


def torch_batchnorm(shape: tuple[int, ...], momentum: float = 0.1, eps: float = 1e-5) -> Any:
    cls = torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d
    return cls(shape[0], momentum=momentum, eps=eps).double()


@pytest.mark.torch
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_matches_torch(shape: tuple[int, ...], training: bool) -> None:
    layer = build(BatchNorm(momentum=0.3, eps=1e-3), shape)
    module = torch_batchnorm(shape, 0.3, 1e-3)
    layer.weight.value[...] = RNG.uniform(0.5, 1.5, shape[0])
    layer.bias.value[...] = RNG.standard_normal(shape[0])
    layer.running_mean[...] = RNG.standard_normal(shape[0])
    layer.running_var[...] = RNG.uniform(0.5, 2.0, shape[0])
    copy_into_torch(module, layer)
    with torch.no_grad():
        module.running_mean.copy_(torch.from_numpy(layer.running_mean))
        module.running_var.copy_(torch.from_numpy(layer.running_var))
    diffs = torch_parity(layer, module, shape, batch=4, training=training)
    diffs["running_mean"] = float(np.abs(module.running_mean.numpy() - layer.running_mean).max())
    diffs["running_var"] = float(np.abs(module.running_var.numpy() - layer.running_var).max())
    assert max(diffs.values()) <= 1e-10, diffs


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_gradcheck(shape: tuple[int, ...], training: bool) -> None:
    layernet.gradcheck(BatchNorm(), shape, batch_size=4, training=training)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shape", [(3,), (2, 4, 4)])
def test_batchnorm_training_gradcheck_with_inputs_drawn_from_the_same_seed(shape: tuple[int, ...],
                                                                           seed: int) -> None:
    """The inputs check_layer draws (default_rng(seed)) once coincided with gradcheck's projection R."""
    x = np.random.default_rng(seed).standard_normal((4, *shape))
    report = layernet.gradcheck(BatchNorm(), shape, inputs=x, training=True, seed=seed)
    assert report.errors["input"] < 1e-8, report


def test_batchnorm_input_gradient_along_its_own_input_is_only_the_eps_term() -> None:
    """Why the coincidence broke the check: with dY = X the exact training-mode input gradient
    is γ·eps·X̂/(σ² + eps), about 1e-5 here, below the finite differences' rounding noise."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    layer = build(BatchNorm(), (3,))
    layer.forward(x, training=True)
    dx = layer.backward(x.copy())
    var = x.var(axis=0)
    xhat = (x - x.mean(axis=0)) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(dx, 1e-5 * xhat / (var + 1e-5), rtol=1e-6, atol=1e-15)
    assert np.abs(dx).max() < 1e-4


@pytest.mark.torch
def test_batchnorm_running_statistics_follow_torch_over_steps() -> None:
    shape = (3, 5, 4)
    layer = build(BatchNorm(), shape)
    module = torch_batchnorm(shape)
    for _ in range(5):
        x = RNG.normal(2.0, 3.0, (6, *shape))
        layer.forward(x, training=True)
        module.train()(torch.from_numpy(x))
    np.testing.assert_allclose(layer.running_mean, module.running_mean.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.running_var, module.running_var.numpy(), rtol=0, atol=1e-12)
    x = RNG.normal(2.0, 3.0, (4, *shape))
    with torch.no_grad():
        expected = module.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(layer.forward(x), expected, rtol=0, atol=1e-10)


def test_batchnorm_state_updates_in_place_and_round_trips_through_a_model_file(tmp_path: Path) -> None:
    model = layernet.Sequential([Conv2D(4, 3, padding=1), BatchNorm(), layernet.layers.ReLU(),
                                 MaxPool2D(2), layernet.layers.Flatten(), layernet.layers.Dense(6),
                                 BatchNorm(), layernet.layers.Dense(3)],
                                input_shape=(1, 28, 28), seed=0)
    state = model.layers[1].states()["running_mean"]
    x = RNG.standard_normal((8, 1, 28, 28)).astype(np.float32)
    for _ in range(3):
        model.forward(x, training=True)
    assert state is model.named_weights()["layers.1.running_mean"] and np.any(state != 0)
    assert {"layers.1.running_var", "layers.6.running_mean"} <= set(model.get_weights())
    path = tmp_path / "bn.npz"
    model.save(path)
    loaded = layernet.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(loaded.get_weights()[name], value)


def test_batchnorm_needs_two_values_per_channel_in_training() -> None:
    layer = build(BatchNorm(), (3,))
    with pytest.raises(InvalidArgument):
        layer.forward(np.ones((1, 3)), training=True)
    assert layer.forward(np.ones((1, 3))).shape == (1, 3)


# -- dtypes, errors, configs ---------------------------------------------------------------------------
ALL_LAYERS: list[tuple[Layer, tuple[int, ...]]] = [
    (Conv2D(4, (3, 2), stride=(2, 1), padding=[1, 0], dilation=[1, 2]), (2, 9, 8)),
    (Conv2D(3, 3, padding="same", use_bias=False, init="glorot_normal",
            bias_init={"type": "uniform", "low": -0.1, "high": 0.1}, name="c"), (2, 6, 6)),
    (Conv1D(3, 3, stride=2, padding="valid"), (2, 10)),
    (MaxPool2D(2), (3, 8, 8)),
    (MaxPool2D([3, 2], stride=[2, 1], padding=1), (3, 8, 7)),
    (AvgPool2D(3, stride=2, padding=1), (3, 7, 7)),
    (GlobalAvgPool2D(), (3, 4, 4)),
    (BatchNorm(momentum=0.2, eps=1e-4), (3, 4, 4)),
    (BatchNorm(), (6,)),
]


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("layer, shape", ALL_LAYERS)
def test_float32_in_float32_out(layer: Layer, shape: tuple[int, ...], training: bool) -> None:
    build(layer, shape, np.float32)
    x = RNG.standard_normal((4, *shape)).astype(np.float32)
    y = layer.forward(x, training=training)
    assert y.dtype == np.float32 and y.shape == (4, *layer.output_shape)
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32 and dx.shape == x.shape
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    build(layer, shape, np.float64)
    assert layer.forward(x.astype(np.float64), training=training).dtype == np.float64


@pytest.mark.parametrize("layer, shape", ALL_LAYERS)
def test_config_round_trip(layer: Layer, shape: tuple[int, ...]) -> None:
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config
    assert layer_from_config(layer_config(layer)).get_config() == config
    assert build(rebuilt, shape).output_shape == build(layer, shape).output_shape
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in layer.parameters()]


def test_config_keeps_what_was_given() -> None:
    assert Conv2D(8, 3).get_config()["kernel_size"] == 3
    assert Conv2D(8, (3, 5), padding="same").get_config() == {
        "filters": 8, "kernel_size": [3, 5], "stride": 1, "padding": "same", "dilation": 1,
        "use_bias": True, "init": "he_uniform", "bias_init": "zeros"}
    assert MaxPool2D(2).get_config() == {"pool_size": 2, "padding": 0}
    assert "stride" not in MaxPool2D(2).get_config()


@pytest.mark.parametrize("make", [
    lambda: Conv2D(0, 3), lambda: Conv2D(4, 0), lambda: Conv2D(4, [3, 3, 3]), lambda: Conv2D(4, cast(Any, 3.0)),
    lambda: Conv2D(4, 3, stride=0), lambda: Conv2D(4, 3, padding=-1), lambda: Conv2D(4, 3, padding="full"),
    lambda: Conv2D(4, 3, padding="same", stride=2), lambda: Conv2D(4, 3, dilation=[1, 0]),
    lambda: Conv2D(4, 3, use_bias=cast(Any, 1)), lambda: Conv2D(4, True), lambda: Conv1D(4, [3, 3]),
    lambda: MaxPool2D(0), lambda: MaxPool2D(2, stride=0), lambda: MaxPool2D(2, padding=2),
    lambda: AvgPool2D([2, 2, 2]), lambda: BatchNorm(momentum=1.5), lambda: BatchNorm(eps=0),
])
def test_bad_arguments_raise_invalid_argument(make: Any) -> None:
    with pytest.raises(InvalidArgument):
        make()


@pytest.mark.parametrize("layer, shape, message", [
    (Conv2D(4, 3), (784,), "Reshape"),
    (Conv2D(4, 3), (28, 28), "channels, height, width"),
    (Conv2D(4, 5), (1, 4, 4), "larger than"),
    (Conv2D(4, 3, dilation=3), (1, 6, 6), "larger than"),
    (Conv1D(4, 3), (1, 2, 8), "channels, length"),
    (MaxPool2D(2), (8, 8), "channels, height, width"),
    (AvgPool2D(5), (1, 4, 4), "larger than"),
    (GlobalAvgPool2D(), (16,), "channels, height, width"),
])
def test_bad_shapes_raise_shape_error(layer: Layer, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        build(layer, shape)


def test_model_error_names_the_layer() -> None:
    with pytest.raises(ShapeError, match=r"layer \[0\] Conv2D.*Reshape"):
        layernet.Sequential([Conv2D(4, 3)], input_shape=(784,))
