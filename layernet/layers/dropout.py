"""Dropout: inverted dropout, active only in training."""

from __future__ import annotations

import numpy as np

from .. import checks
from ..typing import Array, Shape
from .base import Layer, register_layer


@register_layer
class Dropout(Layer):
    """Inverted dropout: in training, zero each element with probability ``rate``
    and scale the rest by ``1 / (1 − rate)``; the identity otherwise.

    Masks are drawn from the generator the layer was built with (the model's),
    so runs with the same seed drop the same units.

    Args:
        rate: drop probability, ``0 <= rate < 1``.

    Shape: any; output shape equals input shape.
    """

    rowwise = True

    def __init__(self, rate: float = 0.5, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.rate = checks.number("rate", rate, min=0.0, max=1.0, max_open=True)
        self._rng: np.random.Generator | None = None
        self._mask: Array | None = None

    def create_parameters(self, input_shape: Shape, rng: np.random.Generator) -> None:
        self._rng = rng

    def forward(self, x: Array, *, training: bool = False) -> Array:
        if not training or self.rate == 0:
            self._mask = None
            return x
        if self._rng is None:
            raise RuntimeError("Dropout must be built before a training forward pass")
        mask: Array = (self._rng.random(x.shape, dtype=x.dtype) >= self.rate).astype(x.dtype)
        mask *= 1 / (1 - self.rate)
        self._mask = mask
        return x * mask

    def backward(self, dY: Array) -> Array:
        return dY if self._mask is None else dY * self._mask

    def clear_cache(self) -> None:
        self._mask = None
