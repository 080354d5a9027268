"""The seeds' training loop, written as the seeds wrote it (case S of ``benchmarks/speed.py``).

784-10-10, ReLU, softmax, full-batch gradient descent with ``alpha = 0.1``, in
float64 with one sample per **column**: ``X`` is ``(784, m)``, ``Z1 = W1·X + b1``.
The functions are the seeds' own, including ``softmax`` by the builtin ``sum``
over the columns and the scalar bias gradients ``db = 1/m · np.sum(dZ)``
(``docs/maths.md`` §5). Two departures, both outside the timed maths: the
initial weights can be given (so the seeds' loop and layernet start from the
same point), and the loop does not print the accuracy every 10 iterations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


def init_params() -> tuple[Array, Array, Array, Array]:
    W1 = np.random.rand(10, 784) - 0.5
    b1 = np.random.rand(10, 1) - 0.5
    W2 = np.random.rand(10, 10) - 0.5
    b2 = np.random.rand(10, 1) - 0.5
    return W1, b1, W2, b2


def ReLU(Z: Array) -> Array:
    return np.maximum(Z, 0)


def softmax(Z: Array) -> Array:
    A = np.exp(Z) / sum(np.exp(Z))
    return A


def forward_prop(W1: Array, b1: Array, W2: Array, b2: Array, X: Array) -> tuple[Array, Array, Array, Array]:
    Z1 = W1.dot(X) + b1
    A1 = ReLU(Z1)
    Z2 = W2.dot(A1) + b2
    A2 = softmax(Z2)
    return Z1, A1, Z2, A2


def ReLU_deriv(Z: Array) -> Array:
    return Z > 0


def one_hot(Y: Array) -> Array:
    one_hot_Y = np.zeros((Y.size, Y.max() + 1))
    one_hot_Y[np.arange(Y.size), Y] = 1
    one_hot_Y = one_hot_Y.T
    return one_hot_Y


def backward_prop(Z1: Array, A1: Array, Z2: Array, A2: Array, W1: Array, W2: Array, X: Array,
                  Y: Array) -> tuple[Array, Any, Array, Any]:
    m = Y.size
    one_hot_Y = one_hot(Y)
    dZ2 = A2 - one_hot_Y
    dW2 = 1 / m * dZ2.dot(A1.T)
    db2 = 1 / m * np.sum(dZ2)
    dZ1 = W2.T.dot(dZ2) * ReLU_deriv(Z1)
    dW1 = 1 / m * dZ1.dot(X.T)
    db1 = 1 / m * np.sum(dZ1)
    return dW1, db1, dW2, db2


def update_params(W1: Array, b1: Array, W2: Array, b2: Array, dW1: Array, db1: Any, dW2: Array,
                  db2: Any, alpha: float) -> tuple[Array, Array, Array, Array]:
    W1 = W1 - alpha * dW1
    b1 = b1 - alpha * db1
    W2 = W2 - alpha * dW2
    b2 = b2 - alpha * db2
    return W1, b1, W2, b2


def get_predictions(A2: Array) -> Array:
    return np.argmax(A2, 0)


def get_accuracy(predictions: Array, Y: Array) -> float:
    return float(np.sum(predictions == Y) / Y.size)


class SeedsLoop:
    """``gradient_descent`` of the seeds, run ``steps`` iterations at a time.

    Args:
        X: ``(784, m)`` float64 pixels / 255, one sample per column.
        Y: ``(m,)`` integer labels.
        params: initial ``(W1, b1, W2, b2)`` in the seeds' shapes; default ``init_params()``.
    """

    def __init__(self, X: Array, Y: Array, alpha: float = 0.1,
                 params: tuple[Array, Array, Array, Array] | None = None) -> None:
        self.X, self.Y, self.alpha = X, Y, alpha
        self.params = init_params() if params is None else params
        self.iterations = 0

    def run(self, steps: int) -> int:
        W1, b1, W2, b2 = self.params
        for _ in range(steps):
            Z1, A1, Z2, A2 = forward_prop(W1, b1, W2, b2, self.X)
            dW1, db1, dW2, db2 = backward_prop(Z1, A1, Z2, A2, W1, W2, self.X, self.Y)
            W1, b1, W2, b2 = update_params(W1, b1, W2, b2, dW1, db1, dW2, db2, self.alpha)
        self.params = (W1, b1, W2, b2)
        self.iterations += steps
        return steps

    def accuracy(self, X: Array, Y: Array) -> float:
        """Accuracy on ``X`` ``(784, n)``, ``Y`` ``(n,)`` (the seeds' ``make_predictions``)."""
        _, _, _, A2 = forward_prop(*self.params, X)
        return get_accuracy(get_predictions(A2), Y)
