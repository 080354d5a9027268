"""BatchNorm: batch normalisation with PyTorch's conventions (``nn.BatchNorm1d``/``nn.BatchNorm2d``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import checks
from ..errors import InvalidArgument, ShapeError
from ..parameter import Parameter
from ..typing import Array, Shape
from .base import Layer, register_layer


@register_layer
class BatchNorm(Layer):
    """Batch normalisation per feature (``(batch, features)``) or per channel
    (``(batch, channels, ...)``, statistics over the batch and every spatial position):

    ``Y = γ · X̂ + β``,  ``X̂ = (X − μ) / sqrt(σ² + eps)``.

    In training ``μ`` and ``σ²`` are the batch mean and *biased* variance over
    the ``m`` values of each channel, and the running statistics are updated in
    place with the *unbiased* variance, exactly as PyTorch does::

        running_mean = (1 − momentum) · running_mean + momentum · μ
        running_var  = (1 − momentum) · running_var  + momentum · σ² · m / (m − 1)

    In evaluation ``μ``, ``σ²`` are ``running_mean``, ``running_var``.

    Backward (training, sums over the ``m`` values of a channel)::

        dβ = Σ dY,   dγ = Σ dY · X̂
        dX = γ / sqrt(σ² + eps) · (dY − dβ / m − X̂ · dγ / m)

    Backward (evaluation; the statistics are constants): ``dX = γ / sqrt(running_var + eps) · dY``,
    with the same ``dβ`` and ``dγ``.

    Args:
        momentum: weight of the new batch in the running statistics, ``0 <= momentum <= 1`` (default 0.1).
        eps: added to the variance, ``> 0`` (default 1e-5).
        name: optional label.

    Shape:
        Input ``(batch, C)`` or ``(batch, C, *spatial)``; output the same.

    Attributes:
        weight: γ, :class:`Parameter` of shape ``(C,)`` (ones).
        bias: β, :class:`Parameter` of shape ``(C,)`` (zeros).
        running_mean: state ``(C,)`` (zeros), saved with the weights.
        running_var: state ``(C,)`` (ones), saved with the weights.

    Example:
        >>> layer = BatchNorm()
        >>> layer.build((16, 28, 28), rng=np.random.default_rng(0))
        (16, 28, 28)
    """

    weight: Parameter
    bias: Parameter
    running_mean: Array
    running_var: Array

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.momentum = checks.number("momentum", momentum, min=0.0, max=1.0)
        self.eps = checks.number("eps", eps, min=0.0, min_open=True)
        self._xhat: Array | None = None
        self._scale: Array | None = None     # γ / sqrt(σ² + eps), broadcastable
        self._training = False

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1:
            raise ShapeError("BatchNorm expects (features,) or (channels, ...) samples, got ()")
        return input_shape

    def create_parameters(self, input_shape: Shape, rng: np.random.Generator) -> None:
        channels = input_shape[0]
        self.weight = self.add_parameter("weight", (channels,), "ones", rng)
        self.bias = self.add_parameter("bias", (channels,), "zeros", rng)
        self.running_mean = self.add_state("running_mean", np.zeros(channels, dtype=self.dtype))
        self.running_var = self.add_state("running_var", np.ones(channels, dtype=self.dtype))

    @staticmethod
    def _axes(x: Array) -> tuple[int, ...]:
        return (0, *range(2, x.ndim))

    @staticmethod
    def _column(v: Array, ndim: int) -> Array:
        """A ``(C,)`` vector shaped to broadcast against ``(batch, C, ...)``."""
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x: Array, *, training: bool = False) -> Array:
        axes = self._axes(x)
        m = x.size // x.shape[1]
        if training:
            if m < 2:
                raise InvalidArgument("batch", x.shape, "more than 1 value per channel in training",
                                      "use a larger batch")
            mean = x.mean(axis=axes, keepdims=True, dtype=x.dtype)
            centred = x - mean
            var = np.mean(np.square(centred), axis=axes, keepdims=True, dtype=x.dtype)
            self.running_mean *= 1 - self.momentum
            self.running_mean += self.momentum * mean.reshape(-1)
            self.running_var *= 1 - self.momentum
            self.running_var += (self.momentum * m / (m - 1)) * var.reshape(-1)
        else:
            centred = x - self._column(self.running_mean, x.ndim)
            var = self._column(self.running_var, x.ndim)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = centred * inv_std
        self._xhat, self._training = xhat, training
        self._scale = self._column(self.weight.value, x.ndim) * inv_std
        y: Array = xhat * self._column(self.weight.value, x.ndim)
        y += self._column(self.bias.value, x.ndim)
        return y

    def _parameter_gradients(self, dY: Array) -> tuple[Array, Array, Array]:
        if self._xhat is None or self._scale is None:
            raise RuntimeError("BatchNorm.backward called before forward")
        axes = self._axes(dY)
        dbeta = dY.sum(axis=axes)
        dgamma = (dY * self._xhat).sum(axis=axes)
        self.bias.accumulate(dbeta)
        self.weight.accumulate(dgamma)
        return self._xhat, dbeta, dgamma

    def backward_parameters(self, dY: Array) -> None:
        self._parameter_gradients(dY)

    def backward(self, dY: Array) -> Array:
        xhat, dbeta, dgamma = self._parameter_gradients(dY)
        assert self._scale is not None
        if not self._training:
            dX: Array = dY * self._scale
            return dX
        m = dY.size // dY.shape[1]
        dX = dY - self._column(dbeta / m, dY.ndim)
        dX -= xhat * self._column(dgamma / m, dY.ndim)
        dX *= self._scale
        return dX

    def clear_cache(self) -> None:
        self._xhat = self._scale = None

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"momentum": self.momentum, "eps": self.eps}
        if self.name is not None:
            config["name"] = self.name
        return config
