"""Sequential: a chain of layers built, run forward and backward as one model."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from . import checks
from .archive import MODEL_FORMAT, WEIGHTS_PREFIX, header, json_array, prefixed, write_archive
from .errors import InvalidArgument, ModelFileError, ModelSizeError, ShapeError
from .fusion import steps
from .layers.base import Layer, layer_config, layer_from_config
from .parameter import Parameter, ParameterBuffer, active_budget, default_budget
from .typing import Array, DType, Shape, float_dtype


class LayernetWarning(UserWarning):
    """A likely mistake layernet noticed but could work around (e.g. inputs unlike the training data)."""


def normalize(rows: npt.NDArray[Any], shift: float | npt.NDArray[Any], scale: float | npt.NDArray[Any],
              dtype: DType, *, copy: bool = True) -> Array:
    """``(rows − shift) · scale`` as a ``dtype`` array: the one normalisation both
    :meth:`layernet.Dataset.batch` and :meth:`Sequential.predict` use, so they agree bit for bit.

    A zero ``shift`` and a unit ``scale`` are skipped; rows already in ``dtype`` that need
    no normalisation are returned as they are. ``copy=False`` allows normalising ``rows``
    in place when they are already ``dtype`` (the caller owns them).
    """
    has_shift = not (np.isscalar(shift) and shift == 0)
    has_scale = not (np.isscalar(scale) and scale == 1)
    out: Array = rows.astype(dtype, copy=copy and (has_shift or has_scale))
    if has_shift:
        out -= np.asarray(shift, dtype=dtype)
    if has_scale:
        out *= np.asarray(scale, dtype=dtype)
    return out


@dataclass(frozen=True, eq=False)
class Preprocessing:
    """How the raw inputs a model was trained on become its inputs: ``(x − shift) · scale``.

    Set by training from the data it saw (``Dataset.shift``/``scale``; uint8 pixels give
    ``scale = 1/255``), applied by :meth:`Sequential.predict` to raw inputs of the same
    kind, saved in the model file and restored by :func:`layernet.load_model`.

    Attributes:
        shift, scale: the normalisation (scalars, or arrays broadcasting over a sample).
        kind: the numpy dtype kind of the raw training samples: ``"u"`` (unsigned
            integers such as uint8 pixels), ``"i"``, ``"b"`` or ``"f"`` (floats).
        dtype: the raw training dtype's name, e.g. ``"uint8"``.
        low, high: the range of the normalised training values (None when unknown);
            float inputs well outside it draw a :class:`LayernetWarning`.
    """

    shift: float | npt.NDArray[Any] = 0.0
    scale: float | npt.NDArray[Any] = 1.0
    kind: str = "f"
    dtype: str = "float32"
    low: float | None = None
    high: float | None = None

    @property
    def identity(self) -> bool:
        """Whether the normalisation changes nothing."""
        return bool(np.all(np.asarray(self.shift) == 0) and np.all(np.asarray(self.scale) == 1))

    def applies_to(self, x: npt.NDArray[Any]) -> bool:
        """Whether ``x`` is raw input of the training kind (integers for integer-trained
        models; floats for float-trained ones), so :meth:`apply` should normalise it."""
        integer = "uib"
        if self.kind in integer:
            return x.dtype.kind in integer
        return x.dtype.kind == self.kind

    def apply(self, x: npt.NDArray[Any], dtype: DType) -> Array:
        """``(x − shift) · scale`` as ``dtype``, exactly as :meth:`layernet.Dataset.batch` computes it."""
        return normalize(x, self.shift, self.scale, dtype)

    def outside(self, x: Array) -> str | None:
        """A description of how normalised inputs ``x`` leave the training range (with a
        10 % margin), or None when they stay inside it or the range is unknown."""
        if self.low is None or self.high is None or x.size == 0:
            return None
        low, high = float(np.nanmin(x)), float(np.nanmax(x))
        margin = 0.1 * max(self.high - self.low, 1e-12)
        if low >= self.low - margin and high <= self.high + margin:
            return None
        return (f"inputs range over [{low:g}, {high:g}] but the model was trained on values in "
                f"[{self.low:g}, {self.high:g}] ({self.dtype} data normalised as (x - {_short(self.shift)})"
                f" * {_short(self.scale)})")

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a model file (JSON)."""
        return {"shift": _plain(self.shift), "scale": _plain(self.scale), "kind": self.kind,
                "dtype": self.dtype, "low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Preprocessing:
        """The inverse of :meth:`to_dict`; files from older layernet hold only shift and scale
        (pixels: ``kind`` ``"u"``)."""
        def number(v: Any) -> float | npt.NDArray[Any]:
            array = np.asarray(v, dtype=np.float64)
            return float(array) if array.ndim == 0 else array
        low, high = value.get("low"), value.get("high")
        return cls(number(value.get("shift", 0.0)), number(value.get("scale", 1.0)),
                   str(value.get("kind", "u")), str(value.get("dtype", "uint8")),
                   None if low is None else float(low), None if high is None else float(high))

    @classmethod
    def fitted(cls, x: npt.NDArray[Any], shift: float | npt.NDArray[Any],
               scale: float | npt.NDArray[Any]) -> Preprocessing:
        """The preprocessing of training samples ``x`` normalised with ``shift``, ``scale``
        (the range is computed in chunks of rows, so it stays cheap for uint8 images)."""
        if x.size == 0:
            return cls(shift, scale, x.dtype.kind, x.dtype.name)
        lows, highs = [], []
        for start in range(0, len(x), 8192):
            chunk = normalize(x[start:start + 8192], shift, scale, np.float64)
            lows.append(float(np.nanmin(chunk)))
            highs.append(float(np.nanmax(chunk)))
        return cls(shift, scale, x.dtype.kind, x.dtype.name, min(lows), max(highs))


def real_array(x: npt.ArrayLike) -> npt.NDArray[Any]:
    """``x`` as an array of real numbers (booleans, integers or floats).

    Raises:
        InvalidArgument: ``x`` holds complex numbers, text or other objects.
    """
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as error:  # e.g. ragged nested lists
        raise InvalidArgument("x", type(x).__name__, "an array of numbers", str(error)[:100]) from None
    if array.dtype.kind not in "biuf":
        raise InvalidArgument("x", f"a {array.dtype} array", "an array of real numbers (booleans, "
                              "integers or floats)")
    return array


def _plain(value: float | npt.NDArray[Any]) -> Any:
    return float(value) if np.ndim(value) == 0 else np.asarray(value).tolist()


def _short(value: float | npt.NDArray[Any]) -> str:
    return f"{float(value):g}" if np.ndim(value) == 0 else f"<array {np.shape(value)}>"


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
        preprocessing: how raw inputs are normalised (:class:`Preprocessing`), set by
            training from the data it saw; None until then (inputs are used as given).
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
        self.preprocessing: Preprocessing | None = None
        self._range_warned = False
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
        the layer whose shape rule fails, and :class:`layernet.ModelSizeError` (before
        allocating it) naming the first parameter beyond the parameter budget: the active
        :class:`~layernet.parameter.ParameterBudget`, else
        :func:`~layernet.parameter.default_budget` (a fifth of the memory).
        """
        shape = checks.positive_sizes("input_shape", input_shape)
        self.input_shape = shape
        with active_budget() or default_budget():
            for i, layer in enumerate(self.layers):
                try:
                    shape = layer.build(shape, rng=self.rng, dtype=self.dtype)
                except (ShapeError, ModelSizeError) as error:
                    self.input_shape = None
                    raise type(error)(f"layer [{i}] {type(layer).__name__}: {error}") from None
        self.output_shape = shape
        self.buffer = ParameterBuffer(self.parameters())
        return shape

    # -- computing ----------------------------------------------------------
    def forward(self, x: npt.ArrayLike, *, training: bool = False, until: int | None = None) -> Array:
        """Run ``x`` ``(batch, *input_shape)`` through the layers; returns ``(batch, *output_shape)``.

        Inputs are converted to the model's dtype; integer inputs (e.g. uint8 pixels) are
        first normalised by :attr:`preprocessing` when the model has one (float inputs are
        taken as normalised already: use :meth:`predict` for raw float data). With ``training=True``
        dropout is active. Each layer caches what :meth:`backward` needs (a ``ReLU``
        followed by ``MaxPool2D`` runs after the pool: :mod:`layernet.fusion`).
        ``until`` stops before that layer index (``until=-1``: all but the last
        layer, as a fused loss needs).
        """
        raw = real_array(x)
        if self.preprocessing is not None and raw.dtype.kind in "uib" and self.preprocessing.applies_to(raw):
            out: Array = self.preprocessing.apply(raw, self.dtype)
        else:
            out = np.asarray(raw, dtype=self.dtype)
        if not self.built:
            self.build(out.shape[1:])
        self._check_input(out)
        for step in steps(self.layers[:until]):
            out = step.forward(out, training=training)
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
        plan = steps(self.layers[:start])
        for step in reversed(plan[1:]):
            grad = step.backward(grad)
        if not input_gradient:
            plan[0].backward_parameters(grad)
            return None
        return plan[0].backward(grad)

    def backward_parameters(self, grad: Array) -> None:
        """:meth:`backward` without the input gradient (what training needs)."""
        self.backward(grad, input_gradient=False)

    def predict(self, x: npt.ArrayLike, batch_size: int = 1024) -> Array:
        """Outputs for raw inputs ``x`` ``(n, *input_shape)`` in inference mode, ``batch_size``
        rows at a time; returns ``(n, *output_shape)`` (probabilities for a model ending in
        Softmax) and keeps no caches.

        Inputs of the kind the model was trained on (uint8 pixels, or floats for a
        float-trained model) are normalised by :attr:`preprocessing` exactly as training
        normalised its batches, so ``predict(x_test_uint8)`` equals the predictions on the
        data evaluation saw, bit for bit. Float inputs given to an integer-trained model
        are used as they are; if they fall well outside the normalised training range a
        :class:`LayernetWarning` says so (once per model).
        """
        checks.integer("batch_size", batch_size, min=1)
        data = real_array(x)
        outputs = [self.forward(self._prepared(data[i:i + batch_size]))
                   for i in range(0, max(len(data), 1), batch_size)]
        self.clear_cache()
        return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]

    def preprocess(self, x: npt.ArrayLike) -> Array:
        """Raw inputs ``x`` as the model's inputs: normalised by :attr:`preprocessing` when
        they are of the training kind, else only converted to the model dtype."""
        return self._prepared(real_array(x))

    def _prepared(self, x: npt.NDArray[Any]) -> Array:
        rule = self.preprocessing
        if rule is None:
            return np.asarray(x, dtype=self.dtype)
        out = rule.apply(x, self.dtype) if rule.applies_to(x) else np.asarray(x, dtype=self.dtype)
        if not self._range_warned and x.dtype.kind == "f":
            problem = rule.outside(out)
            if problem is not None:
                self._range_warned = True
                hint = (f"; pass the raw {rule.dtype} data (the model normalises it) or normalise "
                        f"it the same way" if rule.kind in "uib" else "")
                warnings.warn(f"{problem}{hint}", LayernetWarning, stacklevel=3)
        return out

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
        """Make every parameter's gradient zero (deferred: see :class:`~layernet.parameter.Parameter`)."""
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
        """The architecture as plain values (``from_config`` rebuilds it, without weights).

        The :attr:`preprocessing` is not part of the architecture; :meth:`save` stores it
        beside it (``from_config`` reads a ``"preprocessing"`` entry when there is one).
        """
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
        """Create (and build, when ``input_shape`` is given) a model from :meth:`get_config` output.

        Raises:
            InvalidArgument: ``config`` is not a mapping whose ``layers`` is a list of
                ``{"type": ...}`` mappings.
        """
        layers = config.get("layers") if isinstance(config, Mapping) else None
        if not isinstance(layers, list) or not all(isinstance(c, dict) and "type" in c for c in layers):
            raise InvalidArgument("config", config, "a mapping whose 'layers' is a list of "
                                  "{'type': ...} mappings", "pass Sequential.get_config() output")
        model = cls([layer_from_config(c) for c in config["layers"]],
                    input_shape=config.get("input_shape"), seed=config.get("seed", 0),
                    dtype=config.get("dtype", "float32"), name=config.get("name"))
        if config.get("preprocessing") is not None:
            model.preprocessing = Preprocessing.from_dict(config["preprocessing"])
        return model

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
    @property
    def plugins(self) -> list[str]:
        """The modules outside layernet that define this model's layer classes, sorted: what
        must be imported to rebuild it (``model.save`` stores them, so ``load_model`` names them)."""
        modules = {type(layer).__module__ for layer in self.layers}
        return sorted(m for m in modules if m != "layernet" and not m.startswith("layernet."))

    def save(self, path: str | Path, *, preprocessing: Mapping[str, float] | None = None) -> None:
        """Write architecture, weights and :attr:`preprocessing` to one ``.npz`` model file,
        atomically (format in :mod:`layernet.archive`; read it back with
        :func:`layernet.load_model`, which restores the preprocessing too).

        Args:
            path: the file to write.
            preprocessing: ``{"shift": s, "scale": c}`` for ``(x − s) · c`` to store instead of
                the model's own :attr:`preprocessing` (for a model trained outside layernet).

        Raises:
            ModelFileError: the model is not built, or the file cannot be written.
        """
        if not self.built:
            raise ModelFileError(f"{path}: cannot save an unbuilt model; build it with "
                                 f"model.build(input_shape) or train it first")
        rule = self.preprocessing if preprocessing is None else Preprocessing.from_dict(preprocessing)
        config = self.get_config()
        extra: dict[str, Any] = {"plugins": json_array(self.plugins)} if self.plugins else {}
        if rule is not None:
            config["preprocessing"] = rule.to_dict()
            if np.ndim(rule.shift) == 0 and np.ndim(rule.scale) == 0:
                extra["preprocessing"] = json_array({"shift": float(rule.shift), "scale": float(rule.scale)})
        write_archive(path, {**header(MODEL_FORMAT), "config": json_array(config),
                             **extra, **prefixed(WEIGHTS_PREFIX, self.get_weights())})
