"""Adjacent layers a model computes together, when that is faster and gives the same numbers.

:meth:`layernet.Sequential.forward` and ``backward`` run a model as a list of *steps*
(:func:`steps`): each layer is a step, except that a ``ReLU`` directly followed by a
``MaxPool2D`` is one step, :class:`PooledReLU`, which pools first and rectifies the pooled
map. The layers themselves (what ``model.layers`` lists, saves and exports) do not change,
and the steps are derived from ``model.layers`` on every call, so changing that list is seen
at once.

Only the built-in classes themselves are fused, never subclasses, whose ``forward`` may
differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeGuard, TypeVar

from .layers.activations import ReLU
from .layers.base import Layer
from .layers.pooling import MaxPool2D
from .typing import Array

L = TypeVar("L", bound=Layer)


class Step(Protocol):
    """What a model runs: a layer, or layers computed together. Shapes as :class:`Layer`'s."""

    def forward(self, x: Array, *, training: bool = False) -> Array: ...

    def backward(self, dY: Array) -> Array: ...

    def backward_parameters(self, dY: Array) -> None: ...

    def clear_cache(self) -> None: ...


class PooledReLU:
    """``MaxPool2D(ReLU(X))`` computed as ``ReLU(MaxPool2D(X))``.

    The two commute, because ReLU keeps the order of values: the largest rectified value of
    a window is the rectified largest value. So the ReLU runs on the pooled map, a quarter of
    the feature map for 2×2 windows; on the LeNet-style MNIST network (case E of
    ``benchmarks/speed.py``) the two ReLUs before its pools took 13 % of a training epoch.

    The outputs are equal bit for bit, and so are the input gradients up to the sign of
    zeros: where a window's maximum is positive, both route ``dY`` to its first occurrence
    (ReLU keeps the positive values and their order); where it is not, both give the window
    a zero gradient (the ReLU's derivative is 0 there). A window whose maximum is NaN, which
    training refuses anyway, may route differently.

    Each layer still does its own work, in swapped order: the ReLU's cache then holds the
    pooled map.

    Args:
        relu: the model's ``ReLU`` layer.
        pool: the ``MaxPool2D`` layer after it.

    Shape:
        Input ``(batch, C, H, W)``; output the pool's ``(batch, C, Ho, Wo)``.
    """

    def __init__(self, relu: ReLU, pool: MaxPool2D) -> None:
        self.relu, self.pool = relu, pool

    def forward(self, x: Array, *, training: bool = False) -> Array:
        return self.relu.forward(self.pool.forward(x, training=training), training=training)

    def backward(self, dY: Array) -> Array:
        return self.pool.backward(self.relu.backward(dY))

    def backward_parameters(self, dY: Array) -> None:
        """Nothing to do: neither layer has parameters."""

    def clear_cache(self) -> None:
        self.relu.clear_cache()
        self.pool.clear_cache()


def steps(layers: Sequence[Layer]) -> list[Step]:
    """The steps that compute ``layers`` in order: each layer itself, or a fused pair."""
    out: list[Step] = []
    i = 0
    while i < len(layers):
        first, second = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        if _exactly(first, ReLU) and second is not None and _exactly(second, MaxPool2D):
            out.append(PooledReLU(first, second))
            i += 2
        else:
            out.append(first)
            i += 1
    return out


def _exactly(layer: Layer, cls: type[L]) -> TypeGuard[L]:
    """Whether ``layer`` is an instance of ``cls`` itself, not of a subclass."""
    return type(layer) is cls
