"""Layers: gradcheck itself, models through gradcheck, and each layer's own rules.

Every registered layer's contract (gradients in float64, accumulation, dtypes,
batch independence, inputs left unchanged, config, YAML and save/load round
trips) is checked by ``tests/test_contract.py`` from its single ``LAYER_TABLE``.
``LAYER_CASES`` here is that table's built-in part; ``tests/test_model.py``
reuses it for the get_config/from_config round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_contract import LAYER_TABLE, LayerCase, _WrongSquare

import layernet as ln
from layernet.layers.base import Layer

def builtin_layer_names() -> list[str]:
    """Names of the layers layernet itself registers (plugins loaded by other tests excluded)."""
    return [name for name, cls in ln.LAYERS.items() if cls.__module__.startswith("layernet.")]


#: The contract table's cases of the built-in layers.
LAYER_CASES: dict[str, list[LayerCase]] = {name: LAYER_TABLE[name] for name in builtin_layer_names()
                                           if LAYER_TABLE.get(name)}


def layer_cases() -> list[Any]:
    """``pytest.param(name, case)`` for every case of every built-in layer."""
    return [pytest.param(name, case, id=f"{name}-{i}")
            for name in builtin_layer_names() for i, case in enumerate(LAYER_CASES.get(name, []))]


def make(name: str, case: LayerCase) -> Layer:
    """A fresh, unbuilt layer for ``case``."""
    return ln.LAYERS.get(name)(**case.kwargs)


@pytest.mark.parametrize("name,case", layer_cases())
def test_gradcheck_covers_every_parameter(name: str, case: LayerCase) -> None:
    layer = make(name, case)
    layer.build(case.input_shape, rng=np.random.default_rng(0), dtype=np.float64)
    options = {key: value for key, value in case.check.items() if key != "skip"}
    report = ln.gradcheck(layer, case.input_shape, **options)
    assert set(report.errors) == {"input"} | {f"layers.0.{p.name}" for p in layer.parameters()}


# -- models and the fused Softmax + CrossEntropy path -------------------------------------------

def test_model_ending_in_softmax_checked_with_cross_entropy() -> None:
    model = ln.Sequential([ln.Dense(5), ln.Tanh(), ln.Dense(4), ln.Softmax()],
                          input_shape=(3,), seed=1)
    report = ln.gradcheck(model, (3,), loss=ln.CrossEntropy(), batch_size=4)
    assert report.passed
    assert set(report.errors) == {"input", "layers.0.weight", "layers.0.bias",
                                  "layers.2.weight", "layers.2.bias"}


def test_model_with_dropout_and_reshape_in_training_mode() -> None:
    model = ln.Sequential([ln.Reshape([6]), ln.Dense(4), ln.LeakyReLU(0.1), ln.Dropout(0.3),
                           ln.Dense(3), ln.Sigmoid()], input_shape=(2, 3), seed=2)
    assert ln.gradcheck(model, (2, 3), training=True, loss=ln.MSE(),
                        targets=np.random.default_rng(0).random((3, 3))).passed


# -- gradcheck itself must fail loudly -----------------------------------------------------------

class _WrongBias(Layer):
    """``Y = X + b`` whose backward adds the wrong gradient into ``b``."""

    def create_parameters(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        self.bias = self.add_parameter("bias", input_shape, "zeros", rng)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        return x + self.bias.value

    def backward(self, dY: np.ndarray) -> np.ndarray:
        self.bias.grad += dY.mean(axis=0)
        return dY


def test_gradcheck_raises_for_a_wrong_input_gradient() -> None:
    with pytest.raises(ln.GradientCheckError, match=r"_WrongSquare.*FAILED"):
        ln.gradcheck(_WrongSquare(), (4,))


def test_gradcheck_raises_for_a_wrong_parameter_gradient() -> None:
    with pytest.raises(ln.GradientCheckError, match=r"layers\.0\.bias .* FAIL"):
        ln.gradcheck(_WrongBias(), (4,))
    report = ln.gradcheck(_WrongBias(), (4,), raise_on_failure=False)
    assert not report.passed
    assert report.errors["input"] <= 1e-6 < report.errors["layers.0.bias"]
    assert isinstance(ln.GradientCheckError("x"), ln.LayernetError)


# -- behaviour of individual layers ----------------------------------------------------------------

def _built(layer: Layer, shape: tuple[int, ...], seed: int = 0) -> Layer:
    layer.build(shape, rng=np.random.default_rng(seed), dtype=np.float64)
    return layer


def test_relu_and_leaky_relu_values() -> None:
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(_built(ln.ReLU(), (3,)).forward(x), [[0.0, 0.0, 3.0]])
    leaky = _built(ln.LeakyReLU(0.25), (3,))
    np.testing.assert_array_equal(leaky.forward(x), [[-0.5, 0.0, 3.0]])
    np.testing.assert_array_equal(leaky.backward(np.ones_like(x)), [[0.25, 0.25, 1.0]])


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 2.0])
def test_leaky_relu_rejects_bad_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        ln.LeakyReLU(alpha)


def test_sigmoid_is_finite_and_exact_at_extremes() -> None:
    y = _built(ln.Sigmoid(), (3,)).forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_array_equal(y, [[0.0, 0.5, 1.0]])


@pytest.mark.parametrize("rate", [-0.1, 1.0, True])
def test_dropout_rejects_bad_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        ln.Dropout(rate)


def test_dropout_is_identity_in_inference_and_scales_in_training() -> None:
    layer = _built(ln.Dropout(0.25), (1000,))
    x = np.ones((20, 1000))
    assert layer.forward(x) is x
    y = layer.forward(x, training=True)
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    assert abs(1 - kept.mean() - 0.25) < 0.01
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), y)


def test_dropout_masks_follow_the_seed() -> None:
    def mask(seed: int) -> np.ndarray:
        return _built(ln.Dropout(0.5), (50,), seed).forward(np.ones((4, 50)), training=True)

    np.testing.assert_array_equal(mask(3), mask(3))
    assert not np.array_equal(mask(3), mask(4))


def test_flatten_and_reshape_shapes() -> None:
    x = np.arange(24.0).reshape(2, 3, 4)
    flatten = _built(ln.Flatten(), (3, 4))
    assert flatten.output_shape == (12,)
    np.testing.assert_array_equal(flatten.backward(flatten.forward(x)), x)
    reshape = _built(ln.Reshape((4, 3)), (3, 4))
    assert reshape.forward(x).shape == (2, 4, 3)
    with pytest.raises(ln.ShapeError, match=r"cannot reshape \(3, 4\)"):
        ln.Reshape((5,)).build((3, 4), rng=np.random.default_rng(0))


@pytest.mark.parametrize("shape", [[], [0, 2], [-1]])
def test_reshape_rejects_bad_shape(shape: list[int]) -> None:
    with pytest.raises(ln.InvalidArgument, match=r"^shape(\[0\])? must be"):
        ln.Reshape(shape)


@pytest.mark.parametrize("units", [0, -3, 2.5, True, "10"])
def test_dense_rejects_bad_units(units: Any) -> None:
    with pytest.raises(ln.InvalidArgument, match=r"^units must be an integer >= 1, got"):
        ln.Dense(units)


def test_dense_needs_flat_input() -> None:
    with pytest.raises(ln.ShapeError, match="Flatten"):
        ln.Dense(3).build((2, 2), rng=np.random.default_rng(0))


def test_dense_parameter_shapes_and_no_bias() -> None:
    layer = _built(ln.Dense(3), (5,))
    assert layer.weight.shape == (5, 3) and layer.bias is not None and layer.bias.shape == (3,)
    no_bias = _built(ln.Dense(3, use_bias=False), (5,))
    assert [p.name for p in no_bias.parameters()] == ["weight"]


@pytest.mark.parametrize("name", ["Dense", "ReLU", "Sigmoid", "Tanh", "Softmax", "LeakyReLU"])
def test_backward_before_forward_is_an_error(name: str) -> None:
    case = LAYER_CASES[name][0]
    layer = _built(make(name, case), case.input_shape)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((2, *layer.output_shape)))
