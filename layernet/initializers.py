"""Named weight initialisers.

An initialiser is a callable ``init(shape, rng, dtype) -> array``. ``fan_in``
is ``shape[0]`` and ``fan_out`` is ``shape[-1]`` (Dense weights are
``(in_features, units)``). Configs name them in snake case, like every other family:
``he_uniform`` or ``{type: uniform, low: -0.5, high: 0.5}`` (the older
``{uniform: {low: -0.5, high: 0.5}}`` is still read).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import checks
from .errors import InvalidArgument
from .registry import Configured, Registry
from .typing import Array, DType, Shape


class Initializer(Configured):
    """Base class: subclasses implement :meth:`sample` in float64 maths, cast to ``dtype``."""

    def __call__(self, shape: Shape, rng: np.random.Generator, dtype: DType) -> Array:
        """Return a new array of ``shape`` and ``dtype`` drawn from ``rng``."""
        return self.sample(shape, rng).astype(dtype, copy=False)

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        """Draw the values (any float dtype)."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Initializer) and type(other) is type(self) \
            and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


INITIALIZERS: Registry[Initializer] = Registry("initializer", Initializer, "layernet.INITIALIZERS.register", "he_uniform")


def fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``.

    Dense weights are ``(in_features, units)``: ``(shape[0], shape[1])``. Kernels
    of 3 or more axes are ``(filters, channels, *kernel_size)`` as in PyTorch:
    ``(channels · k, filters · k)`` with ``k`` the kernel's size. A vector counts as both.
    """
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


@INITIALIZERS.register(name="zeros")
class Zeros(Initializer):
    """All zeros."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return np.zeros(shape)


@INITIALIZERS.register(name="ones")
class Ones(Initializer):
    """All ones."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return np.ones(shape)


@INITIALIZERS.register(name="uniform")
class Uniform(Initializer):
    """Uniform on ``[low, high)``; the seeds use ``uniform(-0.5, 0.5)``.

    Args:
        low: lower bound.
        high: upper bound, greater than ``low``.
    """

    def __init__(self, low: float = -0.05, high: float = 0.05) -> None:
        self.low = checks.number("low", low)
        self.high = checks.number("high", high, min=self.low, min_open=True)

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return rng.uniform(self.low, self.high, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


@INITIALIZERS.register(name="normal")
class Normal(Initializer):
    """Normal with mean ``mean`` and standard deviation ``std``.

    Args:
        std: standard deviation, positive.
        mean: mean.
    """

    def __init__(self, std: float = 0.05, mean: float = 0.0) -> None:
        self.std = checks.number("std", std, min=0.0, min_open=True)
        self.mean = checks.number("mean", mean)

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return rng.normal(self.mean, self.std, size=shape)

    def get_config(self) -> dict[str, Any]:
        return {"std": self.std, "mean": self.mean}


@INITIALIZERS.register(name="he_uniform")
class HeUniform(Initializer):
    """He/Kaiming uniform: ``U(-l, l)`` with ``l = sqrt(6 / fan_in)``; suits ReLU."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        limit = math.sqrt(6.0 / fans(shape)[0])
        return rng.uniform(-limit, limit, size=shape)


@INITIALIZERS.register(name="he_normal")
class HeNormal(Initializer):
    """He/Kaiming normal: ``N(0, 2 / fan_in)``; suits ReLU."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        return rng.normal(0.0, math.sqrt(2.0 / fans(shape)[0]), size=shape)


@INITIALIZERS.register(name="glorot_uniform")
class GlorotUniform(Initializer):
    """Glorot/Xavier uniform: ``U(-l, l)`` with ``l = sqrt(6 / (fan_in + fan_out))``."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        fan_in, fan_out = fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)


@INITIALIZERS.register(name="glorot_normal")
class GlorotNormal(Initializer):
    """Glorot/Xavier normal: ``N(0, 2 / (fan_in + fan_out))``."""

    def sample(self, shape: Shape, rng: np.random.Generator) -> Array:
        fan_in, fan_out = fans(shape)
        return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


InitializerLike = Initializer | str | dict[str, Any]


def get_initializer(spec: InitializerLike) -> Initializer:
    """Resolve ``"he_uniform"``, ``{"type": "uniform", "low": -0.5, "high": 0.5}`` (or the older
    ``{"uniform": {"low": -0.5, "high": 0.5}}``) or an instance.

    Raises:
        UnknownNameError: an unregistered name.
        InvalidArgument: a malformed spec or an argument out of range.
    """
    if not isinstance(spec, (Initializer, str, dict)):
        raise InvalidArgument("init", spec, "an initializer name or {type: name, ...}")
    return INITIALIZERS.create(spec)


def initializer_config(init: Initializer) -> str | dict[str, Any]:
    """The inverse of :func:`get_initializer`: a name, or ``{"type": name, **args}`` with arguments."""
    config = INITIALIZERS.config_of(init)
    return config if len(config) > 1 else str(config["type"])
