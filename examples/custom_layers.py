"""A layernet plugin: two custom layers, ``Swish`` and ``Scale``.

Importing this module registers both layers, so a YAML config can name them
once it lists the module as a plugin::

    plugins: [examples.custom_layers]
    model:
      input_shape: [784]
      layers:
        - {type: Dense, units: 64}
        - {type: Swish, beta: 1.0}
        - {type: Scale}
        - {type: Dense, units: 10}
        - {type: Softmax}

From Python, import the module and use the classes like any built-in layer::

    import layernet as ln
    from examples.custom_layers import Scale, Swish

    model = ln.Sequential([ln.Dense(64), Swish(beta=1.0), Scale(), ln.Dense(10), ln.Softmax()],
                          input_shape=(784,))
    ln.gradcheck(Swish(beta=2.0), (5,))      # raises GradientCheckError if backward is wrong

See ``docs/custom-layers.md`` for the layer contract these classes follow. Both
also implement the ONNX export hook ``to_onnx(builder) -> str`` (see
``docs/export.md``), so ``ln.export_onnx`` writes models that use them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import layernet as ln
from layernet.export import OnnxBuilder
from layernet.typing import Array, Shape
from layernet.initializers import InitializerLike, get_initializer, initializer_config
from layernet.ops import sigmoid

__all__ = ["Scale", "Swish"]


@ln.register_layer
class Swish(ln.Layer):
    """Swish (SiLU when ``beta = 1``): ``Y = X · σ(β·X)``.

    With ``s = σ(β·X)`` the derivative is ``dY/dX = s + β·X·s·(1 − s)``.
    It has no parameters, so it only implements ``forward`` and ``backward``;
    the default ``get_config`` finds ``beta`` because ``__init__`` stores it
    under the argument's own name.

    Args:
        beta: the slope inside the sigmoid (any finite number).
        name: optional label.

    Shape: any; output shape equals input shape.
    """

    def __init__(self, beta: float = 1.0, *, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(beta, bool) or not np.isfinite(beta):
            raise ValueError(f"Swish beta must be a finite number, got {beta!r}")
        self.beta = float(beta)
        self._x: Array | None = None
        self._s: Array | None = None

    def forward(self, x: Array, *, training: bool = False) -> Array:
        """``(batch, ...) -> (batch, ...)``; caches ``X`` and ``σ(β·X)``."""
        s = sigmoid(x * self.beta)
        self._x, self._s = x, s
        y: Array = x * s
        return y

    def backward(self, dY: Array) -> Array:
        """``dX = dY · (s + β·X·s·(1 − s))``, same shape as ``dY``."""
        if self._x is None or self._s is None:
            raise RuntimeError("Swish.backward called before forward")
        s = self._s
        dX: Array = dY * (s + self.beta * self._x * s * (1 - s))
        return dX

    def clear_cache(self) -> None:
        self._x = self._s = None

    def to_onnx(self, builder: OnnxBuilder) -> str:
        """ONNX export: ``Mul(X, Sigmoid(Mul(X, β)))`` (the inner Mul only when ``β ≠ 1``)."""
        x = builder.input
        if self.beta != 1:
            x_beta = builder.add_node("Mul", [x, builder.add_initializer("beta", np.float32(self.beta))])
        else:
            x_beta = x
        return builder.add_node("Mul", [x, builder.add_node("Sigmoid", [x_beta])])


@ln.register_layer
class Scale(ln.Layer):
    """A learnable scale per feature: ``Y = X · γ``, ``γ`` broadcast over the last axis.

    ``γ`` is created in :meth:`create_parameters` with :meth:`add_parameter`,
    so the model packs it with the other parameters and optimisers update it.
    ``backward`` *adds* ``dL/dγ = Σ_batch dY · X`` into ``γ.grad``.

    Args:
        init: initialiser of ``γ`` (default ``"ones"``: starts as the identity).
        name: optional label.

    Shape:
        Input ``(batch, ..., features)``; output the same.

    Attributes:
        scale: :class:`layernet.Parameter` of shape ``(features,)``.
    """

    scale: ln.Parameter

    def __init__(self, init: InitializerLike = "ones", *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.init = get_initializer(init)
        self._x: Array | None = None

    def create_parameters(self, input_shape: Shape, rng: np.random.Generator) -> None:
        """One scale per feature of the last axis."""
        self.scale = self.add_parameter("scale", input_shape[-1:], self.init, rng)

    def forward(self, x: Array, *, training: bool = False) -> Array:
        """``(batch, ..., features) -> (batch, ..., features)``; caches ``X``."""
        self._x = x
        y: Array = x * self.scale.value
        return y

    def backward(self, dY: Array) -> Array:
        """Adds ``Σ dY · X`` over every axis but the last into ``scale.grad``; returns ``dY · γ``."""
        if self._x is None:
            raise RuntimeError("Scale.backward called before forward")
        self.scale.grad += (dY * self._x).reshape(-1, self.scale.size).sum(axis=0)
        dX: Array = dY * self.scale.value
        return dX

    def clear_cache(self) -> None:
        self._x = None

    def to_onnx(self, builder: OnnxBuilder) -> str:
        """ONNX export: ``Mul(X, γ)``, broadcast over the last axis as in :meth:`forward`."""
        return builder.add_node("Mul", [builder.input, builder.add_initializer("scale", self.scale.value)])

    def get_config(self) -> dict[str, Any]:
        """``init`` is stored as an initialiser object, so write it back as its config name."""
        config: dict[str, Any] = {"init": initializer_config(self.init)}
        if self.name is not None:
            config["name"] = self.name
        return config
