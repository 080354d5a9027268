"""Layer: the base class of every layer, and the layer registry."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from ..typing import Array, DType, Shape, float_dtype
from ..errors import InvalidArgument
from ..initializers import Initializer, InitializerLike, get_initializer
from ..parameter import Parameter, active_budget, default_budget
from ..registry import Registry


class Layer:
    """One step of a network, with a hand-written ``forward`` and ``backward``.

    Subclasses implement :meth:`forward` and :meth:`backward`; layers with
    parameters override :meth:`create_parameters` and call
    :meth:`add_parameter`; layers that change the shape override
    :meth:`compute_output_shape`. Register a subclass with
    :func:`layernet.register_layer` to name it in YAML.

    Contract:
        * ``forward(X)`` with ``X`` of shape ``(batch, *input_shape)`` returns
          ``Y`` of shape ``(batch, *output_shape)`` and caches what
          ``backward`` needs (one batch at most).
        * ``backward(dY)`` takes ``dL/dY`` (same shape as ``Y``), **adds**
          ``dL/dparam`` into each ``param.grad`` and returns ``dX = dL/dX``.
        * Inputs are never modified in place.

    Args:
        name: an optional label shown in summaries.
    """

    #: Whether each output row depends only on the same input row in training mode too
    #: (true of every built-in layer but ``BatchNorm``). The Trainer then computes a batch
    #: larger than :data:`layernet.training.trainer.BLOCK_ROWS` a block of rows at a time,
    #: adding up the gradients: the same step, faster and in less memory. A custom layer
    #: sets it to True when its rows never mix; left False, its batches run in one piece.
    #: Subclasses inherit it: a subclass of a built-in layer that mixes rows sets it False.
    rowwise: ClassVar[bool] = False

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name
        self.built = False
        self.dtype: np.dtype[np.floating[Any]] = np.dtype(np.float32)
        self.input_shape: Shape = ()
        self.output_shape: Shape = ()
        self._parameters: list[Parameter] = []
        self._states: dict[str, Array] = {}

    # -- building -----------------------------------------------------------
    def build(self, input_shape: Shape, *, rng: np.random.Generator, dtype: DType = np.float32) -> Shape:
        """Create the parameters for inputs of ``input_shape`` (batch excluded).

        Returns the output shape (batch excluded). Raises
        :class:`layernet.ShapeError` when the shape does not fit the layer.
        """
        input_shape = tuple(int(d) for d in input_shape)
        self.dtype = float_dtype(dtype)
        output_shape = self.compute_output_shape(input_shape)
        self._parameters = []
        self._states = {}
        self.create_parameters(input_shape, rng)
        self.input_shape, self.output_shape, self.built = input_shape, output_shape, True
        return output_shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for ``input_shape`` (batch excluded); identity by default."""
        return input_shape

    def create_parameters(self, input_shape: Shape, rng: np.random.Generator) -> None:
        """Create this layer's parameters with :meth:`add_parameter`; none by default."""

    def add_parameter(self, name: str, shape: Shape, init: InitializerLike,
                      rng: np.random.Generator) -> Parameter:
        """Create, register and return a :class:`Parameter` of ``shape`` drawn by ``init``.

        Its bytes are first claimed from the active :class:`~layernet.parameter.ParameterBudget`
        (a model too large for it raises :class:`layernet.ModelSizeError` before allocating);
        a budget with ``initialize=False`` (loading stored weights) makes it zeros instead.
        """
        initializer: Initializer = get_initializer(init)
        budget = active_budget()
        (budget or default_budget()).claim(name, shape, self.dtype)
        if budget is None or budget.initialize:
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                value = initializer(shape, rng, self.dtype)
            if not np.isfinite(value).all():
                raise InvalidArgument("init", initializer, "an initializer that gives finite values",
                                      f"{name} {list(shape)} came out NaN or infinite in {self.dtype}; "
                                      "use a smaller scale")
        else:
            value = np.zeros(shape, self.dtype)
        parameter = Parameter(value, name=name)
        self._parameters.append(parameter)
        return parameter

    def parameters(self) -> list[Parameter]:
        """This layer's trainable parameters, in creation order."""
        return list(self._parameters)

    def add_state(self, name: str, value: Array) -> Array:
        """Register and return ``value`` as non-trainable state (e.g. BatchNorm's running mean).

        State is saved and restored with the weights (model files, checkpoints)
        under ``layers.<index>.<name>``; the layer updates it in place. It counts
        against the active parameter budget like a parameter.
        """
        (active_budget() or default_budget()).claim(name, value.shape, value.dtype)
        self._states[name] = value
        return value

    def states(self) -> dict[str, Array]:
        """This layer's non-trainable state arrays by name, in creation order."""
        return dict(self._states)

    # -- computing ----------------------------------------------------------
    def forward(self, x: Array, *, training: bool = False) -> Array:
        """Compute ``Y`` from ``X``: ``(batch, *input_shape) -> (batch, *output_shape)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def backward(self, dY: Array) -> Array:
        """Add parameter gradients and return ``dX``: ``(batch, *output_shape) -> (batch, *input_shape)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement backward()")

    def backward_parameters(self, dY: Array) -> None:
        """Like :meth:`backward` when ``dX`` is not needed (the first layer); may skip work."""
        self.backward(dY)

    def clear_cache(self) -> None:
        """Drop arrays cached by :meth:`forward` (override if the layer caches any)."""

    # -- configuration ------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as plain values, so ``from_config(get_config())`` rebuilds the layer.

        The default reads each ``__init__`` argument from the attribute of the
        same name; override it when a layer stores its arguments differently.
        """
        config: dict[str, Any] = {}
        for arg in inspect.signature(type(self).__init__).parameters.values():
            if arg.name == "self" or arg.kind in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD):
                continue
            if not hasattr(self, arg.name):
                raise NotImplementedError(
                    f"{type(self).__name__}.get_config: no attribute {arg.name!r} for the "
                    f"__init__ argument of that name; store it or override get_config()")
            value = getattr(self, arg.name)
            if arg.name == "name" and value is None:
                continue
            config[arg.name] = value
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """Create an unbuilt layer from :meth:`get_config` output."""
        return cls(**config)

    def extra_repr(self) -> str:
        """The arguments shown inside ``repr``; by default the non-default config values."""
        return ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


LAYERS: Registry[Layer] = Registry("layer", Layer, "layernet.register_layer", "Dense")


LayerClass = TypeVar("LayerClass", bound=type[Layer])


def register_layer(cls: LayerClass) -> LayerClass:
    """Class decorator: make a :class:`Layer` subclass nameable in YAML by its class name."""
    LAYERS.register(cls)
    return cls


def layer_config(layer: Layer) -> dict[str, Any]:
    """``{"type": registered name, **layer.get_config()}``."""
    return LAYERS.config_of(layer)


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Create an unbuilt layer from :func:`layer_config` output."""
    args = dict(config)
    return LAYERS.get(args.pop("type")).from_config(args)
