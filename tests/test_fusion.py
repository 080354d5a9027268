"""Layers a model computes together (``layernet.fusion``) give the numbers of the layers run one by one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.fusion import PooledReLU, steps


def _cnn(pool: dict[str, Any], dtype: Any) -> ln.Sequential:
    return ln.Sequential([
        ln.Conv2D(4, 3, padding=1), ln.ReLU(), ln.MaxPool2D(**pool),
        ln.Conv2D(3, 3, padding=1), ln.ReLU(), ln.MaxPool2D(**pool),
        ln.Flatten(), ln.Dense(5), ln.Softmax(),
    ], input_shape=(2, 8, 8), seed=3, dtype=dtype)


def _layer_by_layer(model: ln.Sequential, x: Any, dy: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Output, input gradient and parameter gradients with every layer run on its own."""
    out = x
    for layer in model.layers[:-1]:
        out = layer.forward(out, training=True)
    model.zero_grad()
    grad = dy
    for layer in reversed(model.layers[:-1]):
        grad = layer.backward(grad)
    return out, grad, {name: p.grad.copy() for name, p in model.named_parameters().items()}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pool", [{"pool_size": 2}, {"pool_size": 3, "stride": 1, "padding": 1},
                                  {"pool_size": 2, "stride": 1}])
def test_relu_then_max_pool_equals_the_layers_one_by_one(pool: dict[str, Any], dtype: Any) -> None:
    model = _cnn(pool, dtype)
    assert sum(isinstance(step, PooledReLU) for step in steps(model.layers[:-1])) == 2
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 2, 8, 8)).astype(dtype)
    x[0] = 0                         # windows of equal values: ties, and maxima of exactly 0
    x[1, :, :4] = -1                 # windows that are negative throughout
    expected, expected_dx, expected_grads = _layer_by_layer(model, x, np.ones((6, 5), dtype))
    out = model.forward(x, training=True, until=-1)
    model.zero_grad()
    dx = model.backward(np.ones((6, 5), dtype), start=-1)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(dx, expected_dx)
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.grad, expected_grads[name])


def test_only_the_built_in_classes_are_fused() -> None:
    class Clipped(ln.ReLU):
        def forward(self, x: Any, *, training: bool = False) -> Any:
            return np.minimum(super().forward(x, training=training), 1.0)

    layers = [ln.ReLU(), ln.MaxPool2D(2), Clipped(), ln.MaxPool2D(2), ln.ReLU(), ln.AvgPool2D(2)]
    assert [type(step).__name__ for step in steps(layers)] == [
        "PooledReLU", "Clipped", "MaxPool2D", "ReLU", "AvgPool2D"]
    assert [type(step).__name__ for step in steps(layers[:1])] == ["ReLU"]


def test_a_changed_layer_list_is_run_as_it_now_is() -> None:
    model = _cnn({"pool_size": 2}, np.float64)
    x = np.random.default_rng(6).standard_normal((3, 2, 8, 8))
    model.forward(x)
    model.layers[1] = ln.Tanh()                   # no longer a ReLU + MaxPool2D pair
    expected = x
    for layer in model.layers:
        expected = layer.forward(expected)
    np.testing.assert_array_equal(model.forward(x), expected)


def test_fused_layers_still_train_and_save_as_themselves(tmp_path: Any) -> None:
    model = _cnn({"pool_size": 2}, np.float32)
    assert [type(layer).__name__ for layer in model.layers][:3] == ["Conv2D", "ReLU", "MaxPool2D"]
    x = np.random.default_rng(5).integers(0, 256, (32, 2, 8, 8), dtype=np.uint8)
    y = np.arange(32) % 5
    trainer = ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters(), lr=1e-2),
                         settings=ln.TrainSettings(epochs=15, batch_size=8))
    history = trainer.fit(x, y)
    assert history.rows[-1]["loss"] < history.rows[0]["loss"]
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(ln.load_model(tmp_path / "m.npz").predict(x), model.predict(x))
