"""Sequential: building, shapes, dtypes, predict, presentation, configs and weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from test_layers import LAYER_CASES, LayerCase, layer_cases, make

import layernet as ln
from layernet.layers.base import layer_config, layer_from_config


def mlp(**kwargs: Any) -> ln.Sequential:
    """A 6-5-3 classifier with dropout."""
    return ln.Sequential([ln.Dense(5), ln.ReLU(), ln.Dropout(0.2), ln.Dense(3), ln.Softmax()],
                         **kwargs)


# -- building -----------------------------------------------------------------------------------

def test_build_with_input_shape_infers_every_shape() -> None:
    model = ln.Sequential([ln.Flatten(), ln.Dense(7), ln.Tanh(), ln.Reshape([7, 1]), ln.Flatten(),
                           ln.Dense(2)], input_shape=(3, 4))
    assert model.built and model.input_shape == (3, 4) and model.output_shape == (2,)
    assert [layer.output_shape for layer in model] == [(12,), (7,), (7,), (7, 1), (7,), (2,)]
    assert model[1].weight.shape == (12, 7)
    assert model.num_parameters == 12 * 7 + 7 + 7 * 2 + 2


def test_lazy_build_at_the_first_forward() -> None:
    model = mlp()
    assert not model.built and model.parameters() == []
    y = model.forward(np.zeros((4, 6)))
    assert model.built and model.input_shape == (6,) and y.shape == (4, 3)
    assert model.num_parameters == 6 * 5 + 5 + 5 * 3 + 3


def test_shape_conflict_names_the_layer() -> None:
    with pytest.raises(ln.ShapeError, match=r"layer \[2\] Dense: .*Flatten"):
        ln.Sequential([ln.Reshape([2, 3]), ln.ReLU(), ln.Dense(4)], input_shape=(6,))
    with pytest.raises(ln.ShapeError, match=r"layer \[1\] Reshape: cannot reshape \(4,\)"):
        ln.Sequential([ln.Dense(4), ln.Reshape([5])], input_shape=(3,))


def test_failed_build_leaves_the_model_unbuilt() -> None:
    model = ln.Sequential([ln.Dense(4), ln.Reshape([5])])
    with pytest.raises(ln.ShapeError):
        model.forward(np.zeros((1, 3)))
    assert not model.built


def test_input_that_does_not_fit_is_a_shape_error() -> None:
    model = mlp(input_shape=(6,))
    with pytest.raises(ln.ShapeError, match=r"input of shape \(2, 5\) does not fit .*\(batch, 6\)"):
        model.forward(np.zeros((2, 5)))
    images = ln.Sequential([ln.Dense(2)], input_shape=(6,))
    with pytest.raises(ln.ShapeError, match="add a Flatten layer"):
        images.forward(np.zeros((2, 2, 3)))


@pytest.mark.parametrize("shape", [(), (0,), (3, -1)])
def test_bad_input_shape_is_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(ln.InvalidArgument, match=r"^input_shape(\[\d\])? must be"):
        mlp(input_shape=shape)


def test_construction_errors() -> None:
    with pytest.raises(ln.InvalidArgument, match="at least one layer"):
        ln.Sequential([])
    with pytest.raises(ln.InvalidArgument, match=r"layers\[1\] must be a layernet Layer, got 'relu'"):
        ln.Sequential([ln.Dense(2), "relu"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="float32 or float64"):
        mlp(dtype=np.int32)


# -- dtypes -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_and_gradients_keep_the_dtype(dtype: Any) -> None:
    model = mlp(input_shape=(6,), dtype=dtype)
    assert model.dtype == dtype
    x = np.random.default_rng(0).standard_normal((8, 6))  # float64 input on purpose
    y = model.forward(x, training=True)
    loss = ln.CrossEntropy()
    loss(y, np.arange(8) % 3)
    dx = model.backward(loss.backward())
    assert y.dtype == dtype and dx.dtype == dtype
    assert all(p.value.dtype == dtype and p.grad.dtype == dtype for p in model.parameters())
    assert model.predict(x).dtype == dtype


def test_float32_is_the_default() -> None:
    model = mlp(input_shape=(6,))
    assert model.dtype == np.float32 and model[0].weight.value.dtype == np.float32


# -- predict ----------------------------------------------------------------------------------------

def test_predict_in_batches_equals_forward_and_keeps_no_cache() -> None:
    model = mlp(input_shape=(6,), dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((23, 6))
    expected = model.forward(x)
    predicted = model.predict(x, batch_size=5)
    assert type(predicted) is np.ndarray
    np.testing.assert_allclose(predicted, expected, rtol=1e-14)
    assert model[0]._x is None and model[1]._cache is None and model[4]._cache is None
    with pytest.raises(RuntimeError, match="before forward"):
        model.backward(np.ones((23, 3)))


def test_predict_single_batch_returns_a_plain_array() -> None:
    model = mlp(input_shape=(6,))
    out = model.predict(np.zeros((3, 6)))
    assert type(out) is np.ndarray and out.shape == (3, 3)


def test_predict_rejects_a_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        mlp(input_shape=(6,)).predict(np.zeros((2, 6)), batch_size=0)


def test_predict_ignores_dropout() -> None:
    model = mlp(input_shape=(6,))
    x = np.ones((4, 6), np.float32)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))


def test_backward_parameters_matches_backward() -> None:
    model = mlp(input_shape=(6,), dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((4, 6))
    dY = np.random.default_rng(3).standard_normal((4, 3))
    model.forward(x)
    model.backward(dY)
    full = {n: p.grad.copy() for n, p in model.named_parameters().items()}
    model.zero_grad()
    model.backward_parameters(dY)
    for name, p in model.named_parameters().items():
        np.testing.assert_allclose(p.grad, full[name], rtol=1e-14)


# -- presentation -------------------------------------------------------------------------------------

def test_len_indexing_iteration_and_repr() -> None:
    layers = [ln.Dense(5, name="hidden"), ln.ReLU(), ln.Dense(3, use_bias=False)]
    model = ln.Sequential(layers, input_shape=(6,), name="net")
    assert len(model) == 3
    assert model[0] is layers[0] and model[-1] is layers[2] and model[1:] == layers[1:]
    assert list(model) == layers
    text = repr(model)
    assert text.startswith("Sequential(input_shape=[6], dtype=float32, params=50)")
    assert "(0): Dense(units=5)" in text and "(2): Dense(units=3, use_bias=False)" in text


def test_summary_lists_layers_shapes_and_counts() -> None:
    model = ln.Sequential([ln.Dense(10, name="hidden"), ln.ReLU(), ln.Dense(10), ln.Softmax()],
                          input_shape=(784,), name="seed")
    lines = model.summary().splitlines()
    assert lines[0] == "Sequential 'seed': input (batch, 784), float32"
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    assert rows[0][-1] == "7,850" and rows[2][-1] == "110" and rows[1][-1] == "0"
    assert lines[2].split() == ["#", "layer", "output", "shape", "params"]
    assert "hidden: Dense(units=10)" in lines[4] and "(batch, 10)" in lines[4]
    assert lines[-1] == "Total parameters: 7,960"


def test_summary_of_an_unbuilt_model() -> None:
    text = mlp().summary()
    assert "input (batch, ?)" in text and "Total parameters: 0" in text


# -- configs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,case", layer_cases())
def test_layer_config_round_trip(name: str, case: LayerCase) -> None:
    layer = make(name, case)
    config = layer_config(layer)
    assert config["type"] == name
    again = layer_from_config(config)
    assert type(again) is type(layer) and layer_config(again) == config
    assert repr(again) == repr(layer)
    model = ln.Sequential([layer], input_shape=case.input_shape, seed=3)
    clone = ln.Sequential.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    for key, value in model.get_weights().items():
        np.testing.assert_array_equal(clone.get_weights()[key], value)


def test_every_layer_case_table_entry_is_used() -> None:
    assert set(LAYER_CASES) == {p.values[0] for p in layer_cases()}


def test_model_config_round_trip() -> None:
    model = mlp(input_shape=(6,), seed=11, dtype=np.float64, name="clf")
    config = model.get_config()
    assert config["input_shape"] == [6] and config["dtype"] == "float64" and config["seed"] == 11
    clone = ln.Sequential.from_config(config)
    assert clone.get_config() == config and clone.name == "clf"
    x = np.random.default_rng(0).standard_normal((3, 6))
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))


def test_unbuilt_model_config_has_no_input_shape() -> None:
    config = mlp().get_config()
    assert "input_shape" not in config
    assert not ln.Sequential.from_config(config).built


# -- weights -------------------------------------------------------------------------------------------

def test_named_parameters_and_weights() -> None:
    model = mlp(input_shape=(6,))
    assert list(model.named_parameters()) == ["layers.0.weight", "layers.0.bias",
                                              "layers.3.weight", "layers.3.bias"]
    weights = model.get_weights()
    weights["layers.0.bias"][...] = 7
    assert not model[0].bias.value.any()


def test_set_weights_copies_into_the_parameters() -> None:
    model, other = mlp(input_shape=(6,), seed=1), mlp(input_shape=(6,), seed=2)
    buffer = model[0].weight.value
    model.set_weights(other.get_weights())
    assert model[0].weight.value is buffer
    for key, value in other.get_weights().items():
        np.testing.assert_array_equal(model.get_weights()[key], value)


def test_set_weights_errors_name_the_entry() -> None:
    model = mlp(input_shape=(6,))
    weights = model.get_weights()
    with pytest.raises(ln.ShapeError, match=r"missing \['layers.3.bias'\], unexpected \[\]"):
        model.set_weights({k: v for k, v in weights.items() if k != "layers.3.bias"})
    with pytest.raises(ValueError, match=r"unexpected \['layers.9.weight'\]"):
        model.set_weights({**weights, "layers.9.weight": np.zeros(1)})
    with pytest.raises(ValueError, match=r"'layers.0.weight' has shape \(5, 6\), the model expects \(6, 5\)"):
        model.set_weights({**weights, "layers.0.weight": weights["layers.0.weight"].T})
    np.testing.assert_array_equal(model[3].bias.value, weights["layers.3.bias"])


def test_parameters_share_one_value_buffer_and_one_grad_buffer() -> None:
    model = mlp(input_shape=(6,))
    values = {id(p.value.base) for p in model.parameters()}
    grads = {id(p.grad.base) for p in model.parameters()}
    assert len(values) == 1 and len(grads) == 1
    base = model.parameters()[0].value.base
    assert base is not None and base.size == model.num_parameters
    assert len(ln.SGD(model.parameters())._groups) == 1


def test_same_seed_gives_the_same_model() -> None:
    a, b, c = (mlp(input_shape=(6,), seed=s) for s in (5, 5, 6))
    for key, value in a.get_weights().items():
        np.testing.assert_array_equal(b.get_weights()[key], value)
    assert not np.array_equal(a[0].weight.value, c[0].weight.value)
    x = np.ones((4, 6))
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))


def test_zero_grad_clears_every_gradient() -> None:
    model = mlp(input_shape=(6,))
    model.forward(np.ones((2, 6)))
    model.backward(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
    assert any(p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())
    assert model.buffer is not None and not model.buffer.grads.any()


@pytest.mark.parametrize("spec", [
    {"type": "Dense", "units": 3},
    {"type": "Conv2D", "filters": 2, "kernel_size": 3, "padding": "same"},
    {"type": "BatchNorm"},
])
def test_backward_after_zero_grad_overwrites_stale_gradients(spec: dict[str, Any]) -> None:
    """zero_grad defers its zeros: the first backward then writes each weight gradient whole
    (no zeroing pass, no temporary to add), and a second backward adds to it."""
    shape = (2, 5, 5) if spec["type"] == "Conv2D" else (6,)
    model = ln.Sequential([layer_from_config(spec)], input_shape=shape, dtype=np.float64, seed=1)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, *shape))
    dy = rng.standard_normal(model.forward(x, training=True).shape)
    model.zero_grad()
    model.backward(dy)
    clean = {p.name: p.grad.copy() for p in model.parameters()}
    for p in model.parameters():
        p.grad[...] = rng.standard_normal(p.shape) * 1e3     # stale values from an earlier step
    model.zero_grad()
    assert model.parameters()[0].grad_to_fill()[1] is False
    model.zero_grad()
    model.backward(dy)
    for p in model.parameters():
        np.testing.assert_array_equal(p.grad, clean[p.name])
    model.backward(dy)
    for p in model.parameters():
        np.testing.assert_allclose(p.grad, 2 * clean[p.name], rtol=1e-13)
