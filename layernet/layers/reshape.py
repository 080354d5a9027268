"""Shape-changing layers without parameters: Flatten and Reshape."""

from __future__ import annotations

import math

from ..typing import Array, Shape
from .. import checks
from ..errors import ShapeError
from .base import Layer, register_layer


@register_layer
class Flatten(Layer):
    """Flatten every axis but the batch axis: ``(batch, d1, d2, ...) -> (batch, d1·d2·...)``.

    Lets ``(batch, 28, 28)`` images feed a Dense layer.
    """

    rowwise = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def forward(self, x: Array, *, training: bool = False) -> Array:
        return x.reshape(x.shape[0], -1)

    def backward(self, dY: Array) -> Array:
        return dY.reshape(dY.shape[0], *self.input_shape)


@register_layer
class Reshape(Layer):
    """Reshape each sample: ``(batch, *input_shape) -> (batch, *shape)``.

    Args:
        shape: the target shape without the batch axis; same number of elements.
    """

    rowwise = True

    def __init__(self, shape: list[int] | tuple[int, ...], *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = checks.positive_sizes("shape", shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if math.prod(input_shape) != math.prod(self.shape):
            raise ShapeError(f"cannot reshape {input_shape} ({math.prod(input_shape)} values) "
                             f"to {self.shape} ({math.prod(self.shape)} values)")
        return self.shape

    def forward(self, x: Array, *, training: bool = False) -> Array:
        return x.reshape(x.shape[0], *self.shape)

    def backward(self, dY: Array) -> Array:
        return dY.reshape(dY.shape[0], *self.input_shape)

    def get_config(self) -> dict[str, object]:
        config: dict[str, object] = {"shape": list(self.shape)}
        if self.name is not None:
            config["name"] = self.name
        return config
