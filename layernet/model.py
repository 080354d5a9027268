"""Sequential: a chain of layers built, run forward and backward as one model."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from . import checks
from .archive import MODEL_FORMAT, WEIGHTS_PREFIX, header, json_array, prefixed, write_archive
from .errors import InvalidArgument, ModelFileError, ShapeError
from .layers.base import Layer, layer_config, layer_from_config
from .parameter import Parameter, ParameterBuffer
from .typing import Array, DType, Shape, float_dtype


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
        buffer: the :class:`ParameterBuffer` holding every parameter (None until built);
            give it (or ``parameters()``) to an optimiser.

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
            raise InvalidArgument("layers", self.layers, "at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise InvalidArgument(f"layers[{i}]", layer, "a layernet Layer")
        self.seed = checks.integer("seed", seed, min=0)
        self.dtype = float_dtype(dtype)
        self.name = name
        self.rng = np.random.default_rng(self.seed)
        self.input_shape: Shape | None = None
        self.output_shape: Shape | None = None
        self.buffer: ParameterBuffer | None = None
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
        shape = checks.positive_sizes("input_shape", input_shape)
        self.input_shape = shape
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.build(shape, rng=self.rng, dtype=self.dtype)
            except ShapeError as error:
                self.input_shape = None
                raise ShapeError(f"layer [{i}] {type(layer).__name__}: {error}") from None
        self.output_shape = shape
        self.buffer = ParameterBuffer(self.parameters())
        return shape

    # -- computing ----------------------------------------------------------
    def forward(self, x: npt.ArrayLike, *, training: bool = False, until: int | None = None) -> Array:
        """Run ``x`` ``(batch, *input_shape)`` through the layers; returns ``(batch, *output_shape)``.

        Inputs are converted to the model's dtype. With ``training=True``
        dropout is active. Each layer caches what :meth:`backward` needs.
        ``until`` stops before that layer index (``until=-1``: all but the last
        layer, as a fused loss needs).
        """
        out: Array = np.asarray(x, dtype=self.dtype)
        if not self.built:
            self.build(out.shape[1:])
        self._check_input(out)
        for layer in self.layers[:until]:
            out = layer.forward(out, training=training)
        return out

    def __call__(self, x: npt.ArrayLike, *, training: bool = False) -> Array:
        return self.forward(x, training=training)

    def backward(self, grad: Array, *, start: int | None = None, input_gradient: bool = True) -> Array | None:
        """Back-propagate ``dL/dY`` ``(batch, *output_shape)``: adds into every parameter's ``grad``
        and returns ``dL/dX`` ``(batch, *input_shape)``.

        ``start`` is the index of the first layer *not* run (the matching
        ``until`` of :meth:`forward`); with ``input_gradient=False`` the first
        layer skips computing ``dL/dX`` (training) and None is returned.
        """
        grad = grad.astype(self.dtype, copy=False)
        layers = self.layers[:start]
        for layer in reversed(layers[1:]):
            grad = layer.backward(grad)
        if not input_gradient:
            layers[0].backward_parameters(grad)
            return None
        return layers[0].backward(grad)

    def backward_parameters(self, grad: Array) -> None:
        """:meth:`backward` without the input gradient (what training needs)."""
        self.backward(grad, input_gradient=False)

    def predict(self, x: npt.ArrayLike, batch_size: int = 1024) -> Array:
        """Outputs for ``x`` ``(n, *input_shape)`` in inference mode, ``batch_size`` rows at a
        time; returns ``(n, *output_shape)`` and keeps no caches."""
        checks.integer("batch_size", batch_size, min=1)
        data = np.asarray(x)
        outputs = [self.forward(data[i:i + batch_size]) for i in range(0, max(len(data), 1), batch_size)]
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

    def named_weights(self) -> dict[str, Array]:
        """Every saved array, live (not copied): parameter values, then each layer's state
        (e.g. BatchNorm's running statistics), by ``"layers.<index>.<name>"``."""
        weights = {name: p.value for name, p in self.named_parameters().items()}
        weights.update({f"layers.{i}.{name}": value for i, layer in enumerate(self.layers)
                        for name, value in layer.states().items()})
        return weights

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        if self.buffer is not None:
            self.buffer.zero_grad()

    @property
    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.size for p in self.parameters())

    def get_weights(self) -> dict[str, Array]:
        """Copies of every parameter value and state array, by :meth:`named_weights` name."""
        return {name: value.copy() for name, value in self.named_weights().items()}

    def set_weights(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        """Copy ``weights`` into the parameters and states; names and shapes must match exactly.

        Raises:
            ShapeError: naming the missing, unexpected or mismatched entries.
        """
        mine = self.named_weights()
        missing = sorted(set(mine) - set(weights))
        unexpected = sorted(set(weights) - set(mine))
        if missing or unexpected:
            raise ShapeError(f"weights do not match the model: missing {missing}, unexpected {unexpected}")
        for name, value in mine.items():
            if weights[name].shape != value.shape:
                raise ShapeError(f"weight {name!r} has shape {weights[name].shape}, "
                                 f"the model expects {value.shape}")
        for name, value in mine.items():
            value[...] = weights[name]

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

    # -- files -------------------------------------------------------------------
    def save(self, path: str | Path, *, preprocessing: dict[str, float] | None = None) -> None:
        """Write architecture and weights to one ``.npz`` model file, atomically
        (format in :mod:`layernet.archive`; read it back with :func:`layernet.load_model`).

        Args:
            path: the file to write.
            preprocessing: how raw inputs were normalised in training, ``{"shift": s,
                "scale": c}`` for ``(x − s) · c``, stored so the file alone can classify raw inputs.

        Raises:
            ModelFileError: the model is not built, or the file cannot be written.
        """
        if not self.built:
            raise ModelFileError(f"{path}: cannot save an unbuilt model; build it with "
                                 f"model.build(input_shape) or train it first")
        extra = {} if preprocessing is None else {"preprocessing": json_array(dict(preprocessing))}
        write_archive(path, {**header(MODEL_FORMAT), "config": json_array(self.get_config()),
                             **extra, **prefixed(WEIGHTS_PREFIX, self.get_weights())})
