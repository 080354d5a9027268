"""layernet's 784-10-10 network against the seeds' column-major equations.

The seeds keep samples in columns: ``X`` is ``(784, m)``, ``W1`` is
``(10, 784)`` and ``b1`` is ``(10, 1)``. layernet keeps them in rows, so
``X_seed = X.T``, ``W1 = model[0].weight.value.T`` and ``b1 = bias[:, None]``
(see ``docs/maths.md``). One forward and backward pass must agree to 1e-12
in float64, except for the seeds' bias gradient, which sums over all units.
"""

from __future__ import annotations

import numpy as np
import pytest

import layernet as ln

UNIFORM = {"uniform": {"low": -0.5, "high": 0.5}}
M = 32


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal to 1e-12, relative to the largest entry of ``expected``."""
    scale = max(float(np.abs(expected).max()), 1e-300)
    assert actual.shape == expected.shape
    assert float(np.abs(actual - expected).max()) <= 1e-12 * scale


@pytest.fixture
def seed_net() -> ln.Sequential:
    """The seeds' network: Dense(10) ReLU Dense(10) Softmax, weights and biases U(−0.5, 0.5)."""
    return ln.Sequential([ln.Dense(10, init=UNIFORM, bias_init=UNIFORM), ln.ReLU(),
                          ln.Dense(10, init=UNIFORM, bias_init=UNIFORM), ln.Softmax()],
                         input_shape=(784,), seed=42, dtype=np.float64)


@pytest.fixture
def batch() -> tuple[np.ndarray, np.ndarray]:
    """``M`` fake images scaled to [0, 1] like the seeds' pixels / 255, and their labels."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (M, 784)) / 255.0, rng.integers(0, 10, M)


def seeds_pass(model: ln.Sequential, x: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The seeds' forward and backward propagation, column-major, written out."""
    W1, b1 = model[0].weight.value.T, model[0].bias.value[:, None]
    W2, b2 = model[2].weight.value.T, model[2].bias.value[:, None]
    X = x.T                                   # (784, m)
    m = X.shape[1]
    Y = np.eye(10)[labels].T                  # (10, m) one-hot
    Z1 = W1 @ X + b1                          # (10, m)
    A1 = np.maximum(Z1, 0)
    Z2 = W2 @ A1 + b2                         # (10, m)
    A2 = np.exp(Z2 - Z2.max(axis=0)) / np.exp(Z2 - Z2.max(axis=0)).sum(axis=0)
    dZ2 = A2 - Y
    dW2 = dZ2 @ A1.T / m                      # (10, 10)
    db2 = dZ2.sum(axis=1, keepdims=True) / m  # (10, 1): one sum per unit
    dZ1 = W2.T @ dZ2 * (Z1 > 0)
    dW1 = dZ1 @ X.T / m                       # (10, 784)
    db1 = dZ1.sum(axis=1, keepdims=True) / m
    loss = -np.sum(Y * np.log(A2)) / m
    return {"A2": A2, "loss": np.array(loss), "dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2,
            "dZ1": dZ1, "dZ2": dZ2}


def layernet_pass(model: ln.Sequential, x: np.ndarray, labels: np.ndarray) -> float:
    """forward, CrossEntropy, backward; returns the loss (gradients land in ``param.grad``)."""
    loss = ln.CrossEntropy()
    value = loss(model.forward(x), labels)
    model.zero_grad()
    model.backward(loss.backward())
    return value


def test_one_pass_equals_the_seeds_equations(seed_net: ln.Sequential,
                                             batch: tuple[np.ndarray, np.ndarray]) -> None:
    x, labels = batch
    seeds = seeds_pass(seed_net, x, labels)
    probs = seed_net.forward(x)
    assert_same(np.asarray(probs).T, seeds["A2"])
    loss = layernet_pass(seed_net, x, labels)
    assert abs(loss - float(seeds["loss"])) <= 1e-12 * float(seeds["loss"])
    assert_same(seed_net[0].weight.grad.T, seeds["dW1"])
    assert_same(seed_net[0].bias.grad[:, None], seeds["db1"])
    assert_same(seed_net[2].weight.grad.T, seeds["dW2"])
    assert_same(seed_net[2].bias.grad[:, None], seeds["db2"])


def test_the_seeds_scalar_bias_gradient_is_wrong(seed_net: ln.Sequential,
                                                 batch: tuple[np.ndarray, np.ndarray]) -> None:
    """The seeds write ``db = 1/m · np.sum(dZ)``: one number summed over every unit."""
    x, labels = batch
    seeds = seeds_pass(seed_net, x, labels)
    layernet_pass(seed_net, x, labels)
    for layer, dZ in ((seed_net[0], seeds["dZ1"]), (seed_net[2], seeds["dZ2"])):
        bias_grad = layer.bias.grad
        m = dZ.shape[1]
        seeds_db = np.full_like(bias_grad, np.sum(dZ) / m)
        assert np.abs(seeds_db - bias_grad).max() > 1e-3
        assert_same(bias_grad, dZ.sum(axis=1) / m)
    # for softmax + cross-entropy every column of dZ2 sums to zero: the seeds' db2 is ~0
    assert abs(np.sum(seeds["dZ2"])) < 1e-12


def test_bias_gradient_matches_finite_differences_not_the_seeds(seed_net: ln.Sequential,
                                                                batch: tuple[np.ndarray, np.ndarray]) -> None:
    x, labels = batch
    bias = seed_net[0].bias
    layernet_pass(seed_net, x, labels)
    analytic = bias.grad.copy()
    numeric = np.zeros_like(analytic)
    for i in range(bias.size):
        original = bias.value[i]
        values = []
        for step in (1e-6, -1e-6):
            bias.value[i] = original + step
            values.append(ln.CrossEntropy()(seed_net.forward(x), labels))
        bias.value[i] = original
        numeric[i] = (values[0] - values[1]) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    dZ1 = seeds_pass(seed_net, x, labels)["dZ1"]
    assert not np.allclose(numeric, np.sum(dZ1) / M, rtol=1e-3)


# -- extreme logits and the Softmax Jacobian --------------------------------------------------------

def test_huge_logits_give_a_finite_loss_and_the_exact_gradient() -> None:
    """Logits of ±1e4: softmax saturates to exact 0/1, yet the fused loss stays finite."""
    model = ln.Sequential([ln.Dense(3), ln.Softmax()], input_shape=(3,), dtype=np.float64)
    model.set_weights({"layers.0.weight": np.diag([1e4, -1e4, 1e4]), "layers.0.bias": np.zeros(3)})
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    labels = np.array([1, 1, 2])                 # classes the network gives probability 0
    probs = model.forward(x)
    assert np.any(probs == 0)                    # log(probs) alone would be -inf
    objective = ln.pair(model, ln.CrossEntropy())   # fused: the loss is computed from the logits
    value, _ = objective.forward(x, labels, training=True)
    assert np.isfinite(value)
    logits = x @ model[0].weight.value
    expected = np.mean(np.logaddexp.reduce(logits, axis=1) - logits[np.arange(3), labels])
    assert value == pytest.approx(expected, rel=1e-12) and value > 1e4 - 1
    model.zero_grad()
    dx = model.backward(objective.computed.backward(), start=objective.stop)
    dZ = (np.asarray(probs) - np.eye(3)[labels]) / 3
    assert np.all(np.isfinite(dx)) and not np.isnan(model[0].weight.grad).any()
    np.testing.assert_array_equal(model[0].weight.grad, x.T @ dZ)
    np.testing.assert_array_equal(model[0].bias.grad, dZ.sum(axis=0))
    np.testing.assert_array_equal(dx, dZ @ model[0].weight.value.T)


def test_softmax_backward_is_the_jacobian_vector_product() -> None:
    rng = np.random.default_rng(3)
    softmax = ln.Softmax()
    softmax.build((5,), rng=rng, dtype=np.float64)
    x, dY = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    y = np.asarray(softmax.forward(x))
    dX = softmax.backward(dY)
    for row in range(4):
        jacobian = np.diag(y[row]) - np.outer(y[row], y[row])   # dy_i / dx_j
        np.testing.assert_allclose(dX[row], jacobian.T @ dY[row], rtol=1e-12, atol=1e-15)


def test_a_modified_softmax_output_does_not_take_the_fused_path() -> None:
    """Only an untouched Softmax output carries its logits to CrossEntropy."""
    rng = np.random.default_rng(4)
    softmax = ln.Softmax()
    softmax.build((4,), rng=rng, dtype=np.float64)
    probs = softmax.forward(rng.standard_normal((3, 4)))
    labels = np.array([0, 1, 3])
    loss = ln.CrossEntropy()
    loss(probs[:2] * 1.0, labels[:2])
    expected = -np.eye(4)[labels[:2]] / np.asarray(probs[:2]) / 2
    np.testing.assert_allclose(loss.backward(), expected, rtol=1e-12)
