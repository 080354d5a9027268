"""The example plugin ``examples.custom_layers``: Swish and Scale behave like built-ins."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

import layernet as ln
from layernet.layers.base import layer_config, layer_from_config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
custom = importlib.import_module("examples.custom_layers")


def net(**kwargs: object) -> ln.Sequential:
    """Dense → Swish → Scale → Dense → Softmax on 4 features."""
    return ln.Sequential([ln.Dense(6), custom.Swish(beta=1.5), custom.Scale(), ln.Dense(3),
                          ln.Softmax()], input_shape=(4,), **kwargs)


def test_importing_the_plugin_registers_both_layers() -> None:
    assert ln.LAYERS.get("Swish") is custom.Swish
    assert ln.LAYERS.get("Scale") is custom.Scale


def test_swish_values() -> None:
    layer = custom.Swish(beta=2.0)
    layer.build((3,), rng=np.random.default_rng(0), dtype=np.float64)
    x = np.array([[-1.0, 0.0, 3.0]])
    np.testing.assert_allclose(layer.forward(x), x / (1 + np.exp(-2.0 * x)), rtol=1e-14)
    assert np.all(np.isfinite(layer.forward(np.array([[-1e4, 1e4]]))))


@pytest.mark.parametrize("beta", [float("nan"), float("inf"), True])
def test_swish_rejects_a_bad_beta(beta: float) -> None:
    with pytest.raises(ValueError, match="Swish beta must be a finite number"):
        custom.Swish(beta)


def test_scale_creates_one_parameter_per_feature() -> None:
    layer = custom.Scale()
    layer.build((2, 5), rng=np.random.default_rng(0), dtype=np.float64)
    assert [p.name for p in layer.parameters()] == ["scale"]
    np.testing.assert_array_equal(layer.scale.value, np.ones(5))
    x = np.random.default_rng(1).standard_normal((3, 2, 5))
    np.testing.assert_array_equal(layer.forward(x), x)


@pytest.mark.parametrize("layer,shape", [
    (custom.Swish(), (5,)), (custom.Swish(beta=-0.7), (2, 3)),
    (custom.Scale({"uniform": {"low": 0.5, "high": 2.0}}), (4,)),
    (custom.Scale({"normal": {"std": 1.0}}), (2, 3)),
])
def test_custom_layers_pass_gradcheck(layer: ln.Layer, shape: tuple[int, ...]) -> None:
    assert ln.gradcheck(layer, shape).passed


def test_model_with_custom_layers_passes_gradcheck() -> None:
    assert ln.gradcheck(net(seed=1), (4,), loss=ln.CrossEntropy(), batch_size=5).passed


def test_training_changes_the_scale_parameter() -> None:
    model = net(seed=2)
    scale = model[2].scale
    assert scale.value.base is model[0].weight.value.base      # packed with the rest
    optimizer = ln.Adam(model.parameters(), lr=0.01)
    loss = ln.CrossEntropy()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    before = scale.value.copy()
    first = loss(model.forward(x, training=True), y)
    for _ in range(30):
        loss(model.forward(x, training=True), y)
        model.backward_parameters(loss.backward())
        optimizer.step()
        optimizer.zero_grad()
    assert not np.allclose(scale.value, before)
    assert loss(model.forward(x), y) < first


def test_config_round_trip() -> None:
    for layer in (custom.Swish(beta=0.5, name="act"), custom.Scale({"uniform": {"low": 1, "high": 2}})):
        config = layer_config(layer)
        again = layer_from_config(config)
        assert type(again) is type(layer) and layer_config(again) == config
    assert layer_config(custom.Swish(beta=0.5)) == {"type": "Swish", "beta": 0.5}
    assert layer_config(custom.Scale()) == {"type": "Scale", "init": "ones"}


def test_model_config_round_trip_keeps_outputs() -> None:
    model = net(seed=3, dtype=np.float64)
    model[2].scale.value[...] = [1.0, 2.0, 0.5, -1.0, 3.0, 0.25]
    clone = ln.Sequential.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    assert [c["type"] for c in model.get_config()["layers"]] == \
        ["Dense", "Swish", "Scale", "Dense", "Softmax"]


def test_backward_before_forward_is_an_error() -> None:
    for layer in (custom.Swish(), custom.Scale()):
        layer.build((3,), rng=np.random.default_rng(0))
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.ones((1, 3)))


def test_float32_stays_float32() -> None:
    model = net(seed=4)
    y = model.forward(np.ones((2, 4)))
    assert y.dtype == np.float32 and model[2].scale.value.dtype == np.float32
    assert model.backward(np.ones((2, 3), np.float32)).dtype == np.float32


def test_save_and_load_a_model_with_custom_layers(tmp_path: Path) -> None:
    io = pytest.importorskip("layernet.io.models")
    model = net(seed=5)
    model[2].scale.value[...] = np.linspace(0.5, 3.0, 6)
    model.save(tmp_path / "custom.npz")
    loaded = io.load_model(tmp_path / "custom.npz")
    assert [type(layer) for layer in loaded] == [type(layer) for layer in model]
    assert loaded[1].beta == 1.5
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
