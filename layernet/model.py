"""Sequential: a chain of layers built, run forward and backward as one model."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from ._typing import Array, DType, Shape, float_dtype
from .errors import ShapeError
from .fusion import plain
from .layers.base import Layer, layer_config, layer_from_config
from .parameter import Parameter, pack


class Sequential:
    """Layers applied one after another: ``Y = f_n(... f_2(f_1(X)))``.

    Args:
        layers: the layers, in order.
        input_shape: the shape of one sample, e.g. ``(784,)`` or ``(28, 28)``;
            when given the model is built at once, otherwise at the first
            :meth:`forward`.
        seed: seeds the model's generator (initial weights, dropout masks).
        dtype: ``np.float32`` (default) or ``np.float64``.
        name: optional label.

    Shape:
        Input ``(batch, *input_shape)``; output ``(batch, *output_shape)``.

    Attributes:
        rng: the model's ``np.random.Generator``; layers draw from it.

    Example:
        >>> import layernet as ln
        >>> model = ln.Sequential([ln.Dense(10), ln.ReLU(), ln.Dense(10), ln.Softmax()],
        ...                       input_shape=(784,), seed=0)
        >>> model.forward(np.zeros((2, 784), np.float32)).shape
        (2, 10)
    """

    def __init__(self, layers: Iterable[Layer], *, input_shape: Iterable[int] | None = None,
                 seed: int = 0, dtype: DType = np.float32, name: str | None = None) -> None:
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer [{i}] is {layer!r}, not a layernet Layer")
        self.seed = int(seed)
        self.dtype = float_dtype(dtype)
        self.name = name
        self.rng = np.random.default_rng(self.seed)
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        if input_shape is not None:
            self.build(tuple(input_shape))

    # -- building -----------------------------------------------------------
    @property
    def built(self) -> bool:
        """Whether :meth:`build` has run (parameters exist)."""
        return self.input_shape is not None

    def build(self, input_shape: Shape) -> Shape:
        """Build every layer for samples of ``input_shape`` and pack the parameters.

        Returns the output shape. Raises :class:`layernet.ShapeError` naming
        the layer whose shape rule fails.
        """
        if isinstance(input_shape, str) or any(isinstance(d, (str, bool, float)) for d in input_shape):
            raise ShapeError(f"input_shape must be a list of positive integers, got {input_shape!r}")
        shape = tuple(int(d) for d in input_shape)
        if not shape or any(d < 1 for d in shape):
            raise ShapeError(f"input_shape must be positive sizes, got {list(input_shape)}")
        self.input_shape = shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, rng=self.rng, dtype=self.dtype)
            except ShapeError as error:
                self.input_shape = None
                raise ShapeError(f"layer [{i}] {type(layer).__name__}: {error}") from None
        self.output_shape = shape
        pack(self.parameters())
        return shape

    # -- computing ----------------------------------------------------------
    def forward(self, x: npt.ArrayLike, *, training: bool = False) -> Array:
        """Run ``x`` ``(batch, *input_shape)`` through every layer; returns ``(batch, *output_shape)``.

        Inputs are converted to the model's dtype. With ``training=True``
        dropout is active. Each layer caches what :meth:`backward` needs.
        """
        out: Array = np.asarray(x, dtype=self.dtype)
        if not self.built:
            self.build(out.shape[1:])
        self._check_input(out)
        for layer in self.layers:
            out = layer.forward(out, training=training)
        return out

    def __call__(self, x: npt.ArrayLike, *, training: bool = False) -> Array:
        return self.forward(x, training=training)

    def backward(self, grad: Array) -> Array:
        """Back-propagate ``dL/dY`` ``(batch, *output_shape)``: adds into every parameter's
        ``grad`` and returns ``dL/dX`` ``(batch, *input_shape)``."""
        grad = grad.astype(self.dtype, copy=False)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return plain(grad)

    def backward_parameters(self, grad: Array) -> None:
        """Like :meth:`backward` but skips the input gradient of the first layer (training)."""
        grad = grad.astype(self.dtype, copy=False)
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        self.layers[0].backward_parameters(grad)

    def predict(self, x: npt.ArrayLike, batch_size: int = 1024) -> Array:
        """Outputs for ``x`` ``(n, *input_shape)`` in inference mode, ``batch_size`` rows at a
        time; returns a plain array ``(n, *output_shape)`` and keeps no caches."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        data = np.asarray(x)
        outputs = [plain(self.forward(data[i:i + batch_size]))
                   for i in range(0, max(len(data), 1), batch_size)]
        self.clear_cache()
        return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]

    def clear_cache(self) -> None:
        """Drop every layer's cached activations."""
        for layer in self.layers:
            layer.clear_cache()

    # -- parameters -----------------------------------------------------------
    def parameters(self) -> list[Parameter]:
        """Every trainable parameter, layer by layer."""
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> dict[str, Parameter]:
        """Parameters by stable name: ``"layers.<index>.<param name>"``."""
        return {f"layers.{i}.{p.name}": p for i, layer in enumerate(self.layers)
                for p in layer.parameters()}

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for p in self.parameters():
            p.zero_grad()

    @property
    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.size for p in self.parameters())

    def get_weights(self) -> dict[str, Array]:
        """Copies of every parameter value by :meth:`named_parameters` name."""
        return {name: p.value.copy() for name, p in self.named_parameters().items()}

    def set_weights(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        """Copy ``weights`` into the parameters; names, shapes must match exactly.

        Raises ``ValueError`` naming the first missing, unexpected or mismatched entry.
        """
        params = self.named_parameters()
        missing = sorted(set(params) - set(weights))
        unexpected = sorted(set(weights) - set(params))
        if missing or unexpected:
            raise ValueError(f"weights do not match the model: missing {missing}, unexpected {unexpected}")
        for name, p in params.items():
            if weights[name].shape != p.shape:
                raise ValueError(f"weight {name!r} has shape {weights[name].shape}, "
                                 f"the model expects {p.shape}")
        for name, p in params.items():
            p.value[...] = weights[name]

    # -- configuration --------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The architecture as plain values (``from_config`` rebuilds it, without weights)."""
        config: dict[str, Any] = {}
        if self.name is not None:
            config["name"] = self.name
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        config.update({"dtype": self.dtype.name, "seed": self.seed,
                       "layers": [layer_config(layer) for layer in self.layers]})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Create (and build, when ``input_shape`` is given) a model from :meth:`get_config` output."""
        return cls([layer_from_config(c) for c in config["layers"]],
                   input_shape=config.get("input_shape"), seed=config.get("seed", 0),
                   dtype=config.get("dtype", "float32"), name=config.get("name"))

    # -- presentation -----------------------------------------------------------
    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        rows = [("#", "layer", "output shape", "params")]
        for i, layer in enumerate(self.layers):
            shape = "(batch, " + ", ".join(map(str, layer.output_shape)) + ")" if layer.built else "?"
            label = repr(layer) if layer.name is None else f"{layer.name}: {layer!r}"
            rows.append((str(i), label, shape, f"{sum(p.size for p in layer.parameters()):,}"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        lines = ["  ".join(cell.ljust(w) if c in (1, 2) else cell.rjust(w)
                           for c, (cell, w) in enumerate(zip(row, widths))) for row in rows]
        rule = "-" * len(lines[0])
        title = f"Sequential{' ' + repr(self.name) if self.name else ''}: input (batch, " + \
            ", ".join(map(str, self.input_shape or ("?",))) + f"), {self.dtype.name}"
        footer = f"Total parameters: {self.num_parameters:,}"
        return "\n".join([title, rule, lines[0], rule, *lines[1:], rule, footer])

    def __len__(self) -> int:
        return len(self.layers)

    @overload
    def __getitem__(self, index: int) -> Layer: ...

    @overload
    def __getitem__(self, index: slice) -> list[Layer]: ...

    def __getitem__(self, index: int | slice) -> Layer | list[Layer]:
        return self.layers[index]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        shape = f"input_shape={list(self.input_shape)}, " if self.input_shape else ""
        return f"Sequential({shape}dtype={self.dtype.name}, params={self.num_parameters:,}){inner}\n"

    def _check_input(self, x: Array) -> None:
        if self.input_shape is not None and x.shape[1:] != self.input_shape:
            expected = math.prod(self.input_shape)
            hint = (" (add a Flatten layer or reshape the data)"
                    if math.prod(x.shape[1:]) == expected else "")
            raise ShapeError(f"input of shape {x.shape} does not fit the model's input shape "
                             f"(batch, {', '.join(map(str, self.input_shape))}){hint}")

    # -- files (implemented in other modules) ------------------------------------
    def save(self, path: str | Path) -> None:
        """Write weights and architecture to one ``.npz`` file (see :func:`layernet.save_model`)."""
        from .io import save_model
        save_model(self, path)

    def to_yaml(self) -> str:
        """The architecture as YAML text that :meth:`from_yaml` reads back."""
        from .config import model_to_yaml
        return model_to_yaml(self)

    @classmethod
    def from_yaml(cls, source: str | Path, *, allow_plugins: bool = False) -> Sequential:
        """Build the ``model`` section of a YAML file or text (see ``docs/yaml-reference.md``)."""
        from .config import model_from_yaml
        return model_from_yaml(source, allow_plugins=allow_plugins)
