"""Pairing a model with its loss, decided once: what training and evaluation compute.

A loss on probabilities declares the layer that produces them (``CrossEntropy.link
== "Softmax"``) and its form on logits (``CrossEntropy.on_logits()``). When a
model ends in that layer, the pair is **fused**: the loss is computed on logits,
the model's input to that layer, so the gradient reaching the layer before is
exactly ``(P − T)/m`` and finite for any logits. A loss on probabilities after
a model that ends in something else (logits) is refused, as is a loss on logits
after a model that already applies the link (a double softmax).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import PairingError
from .layers.base import LAYERS, Layer
from .losses import Loss
from .model import Sequential
from .registry import Configured
from .typing import Array


@dataclass(frozen=True)
class Objective:
    """A model and its loss as training computes them.

    Attributes:
        model: the model.
        loss: the loss as configured.
        computed: the loss actually computed: ``loss.on_logits()`` when fused, else ``loss``.
        fused: whether the model's last layer is folded into the loss.
    """

    model: Sequential
    loss: Loss
    computed: Loss
    fused: bool

    @cached_property
    def rowwise(self) -> bool:
        """Whether a batch's loss and gradients may be added up from blocks of its rows: every
        layer the forward pass runs and the loss (as configured and as computed) are
        :attr:`~layernet.Layer.rowwise`."""
        layers = self.model.layers[:self.stop]
        return self.loss.rowwise and self.computed.rowwise and all(layer.rowwise for layer in layers)

    @property
    def stop(self) -> int | None:
        """The layer index the forward pass stops before (``-1`` when fused)."""
        return -1 if self.fused else None

    def forward(self, x: Array, y: npt.NDArray[Any], *, training: bool) -> tuple[float, Array]:
        """Mean loss on the batch ``x`` ``(batch, *input_shape)``, ``y``, and the outputs the
        loss saw (logits when fused) ``(batch, *output_shape)``."""
        outputs = self.model.forward(x, training=training, until=self.stop)
        return self.computed.forward(outputs, y), outputs

    def backward(self, share: float = 1.0) -> None:
        """Add the gradients of the last :meth:`forward` into the parameters (no input gradient),
        times ``share``: the fraction of a larger batch's rows this forward saw, when that
        batch's mean loss is added up block by block."""
        grad = self.computed.backward()
        self.model.backward(grad if share == 1 else grad * share, start=self.stop, input_gradient=False)

    def predicted_classes(self, outputs: Array) -> npt.NDArray[np.intp]:
        """The predicted class of each row of :meth:`forward`'s ``outputs``."""
        return self.computed.predicted_classes(outputs)

    def describe(self) -> str:
        """One line for summaries and run headers, e.g. ``CrossEntropy fused with the final Softmax``."""
        name = _name(self.loss)
        if self.fused:
            return f"{name} fused with the final {type(self.model.layers[-1]).__name__} (computed from logits)"
        return f"{name} on the model outputs"


def pair(model: Sequential, loss: Loss) -> Objective:
    """Decide how ``loss`` meets ``model``'s last layer (see the module docstring).

    Raises:
        PairingError: a loss on probabilities after a model that does not end in
            its link layer, or a loss on logits after one that does.
    """
    fused = fusion(model.layers[-1], loss)
    return Objective(model, loss, fused if fused is not None else loss, fused is not None)


def fusion(last: Layer, loss: Loss) -> Loss | None:
    """The loss to compute on ``last``'s input when ``last`` is ``loss``'s link layer, else None.

    Raises:
        PairingError: as :func:`pair`.
    """
    link = LAYERS.get(loss.link) if loss.link is not None else None
    ends_in_link = link is not None and isinstance(last, link)
    name, layer = _name(loss), type(last).__name__
    if ends_in_link and loss.from_logits:
        raise PairingError(f"{name} has from_logits: true but the model already ends in {layer}, "
                           f"which would be applied twice; remove the final {layer} or set "
                           f"from_logits: false")
    if link is not None and not loss.from_logits and not ends_in_link:
        raise PairingError(f"{name} expects probabilities but the model ends in {layer}, which gives "
                           f"unnormalised outputs; add {loss.link} as the last layer or use "
                           f"{{type: {name}, from_logits: true}}")
    return loss.on_logits() if ends_in_link else None


def _name(loss: Configured) -> str:
    return type(loss).__name__
