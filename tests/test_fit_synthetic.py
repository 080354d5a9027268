"""End to end with the plain API: small networks learn non-linear problems.

Each test runs the manual loop (forward, loss, backward, step, zero_grad) for a
fixed number of full-batch steps (well under a second each) and must reach
99 % training accuracy; XOR and two spirals are not linearly separable, so a broken
layer, loss or optimiser shows up as a failure.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

import layernet as ln

def train(model: ln.Sequential, loss: ln.Loss, optimizer: ln.Optimizer, x: np.ndarray,
          y: npt.NDArray[np.generic], steps: int) -> list[float]:
    """Full-batch training; returns the loss of every step."""
    history = []
    for _ in range(steps):
        history.append(loss(model.forward(x, training=True), y))
        model.backward(loss.backward())
        optimizer.step()
        optimizer.zero_grad()
    return history


def accuracy(model: ln.Sequential, x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose arg-max (or, for one output, threshold 0.5) is the label."""
    out = model.predict(x)
    predicted = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(int)
    return float(np.mean(predicted == labels))


def xor_clouds(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points in the four quadrants of [−1, 1]², away from the axes; label = x₁·x₂ < 0."""
    x = rng.uniform(0.15, 1.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    return x, (x[:, 0] * x[:, 1] < 0).astype(int)


def two_spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals of 1.5 turns, radius up to 3; label = which spiral."""
    angle = np.sqrt(rng.random(n)) * 3 * np.pi
    labels = rng.integers(0, 2, n)
    radius = np.where(labels == 0, 1.0, -1.0) * angle / np.pi
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return points + rng.normal(0, 0.02, points.shape), labels


def test_four_point_xor_with_plain_gradient_descent() -> None:
    """The seeds' setting: plain SGD, one small hidden layer, a sigmoid output and BCE."""
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    model = ln.Sequential([ln.Dense(8, init="glorot_normal"), ln.Tanh(), ln.Dense(1), ln.Sigmoid()],
                          input_shape=(2,), seed=0)
    history = train(model, ln.BinaryCrossEntropy(), ln.SGD(model.parameters(), lr=1.0),
                    x, y.astype(np.float32), steps=1000)
    assert accuracy(model, x, y) == 1.0
    assert history[-1] < 0.05 < history[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_noisy_xor_with_momentum(dtype: type[np.floating]) -> None:
    rng = np.random.default_rng(1)
    x, y = xor_clouds(400, rng)
    model = ln.Sequential([ln.Dense(16, init="he_uniform"), ln.ReLU(), ln.Dense(2), ln.Softmax()],
                          input_shape=(2,), seed=1, dtype=dtype)
    train(model, ln.CrossEntropy(), ln.SGD(model.parameters(), lr=0.5, momentum=0.9), x, y,
          steps=300)
    assert accuracy(model, x, y) >= 0.99
    assert accuracy(model, *xor_clouds(400, rng)) >= 0.97


def test_two_spirals_with_adam() -> None:
    rng = np.random.default_rng(0)
    x, y = two_spirals(400, rng)
    model = ln.Sequential([ln.Dense(64), ln.Tanh(), ln.Dense(64), ln.Tanh(), ln.Dense(2),
                           ln.Softmax()], input_shape=(2,), seed=0)
    history = train(model, ln.CrossEntropy(), ln.Adam(model.parameters(), lr=0.01), x, y, steps=600)
    assert accuracy(model, x, y) >= 0.99
    assert accuracy(model, *two_spirals(400, rng)) >= 0.95
    assert history[-1] < 0.1 * history[0]


def test_spirals_with_logits_dropout_and_adamw() -> None:
    """The unfused path: no Softmax layer, CrossEntropy(from_logits=True), dropout active."""
    rng = np.random.default_rng(2)
    x, y = two_spirals(400, rng)
    model = ln.Sequential([ln.Dense(96), ln.LeakyReLU(0.05), ln.Dropout(0.05), ln.Dense(96),
                           ln.Tanh(), ln.Dense(2)], input_shape=(2,), seed=2)
    train(model, ln.CrossEntropy(from_logits=True),
          ln.AdamW(model.parameters(), lr=0.01, weight_decay=1e-4), x, y, steps=800)
    assert accuracy(model, x, y) >= 0.99
