"""Learning-rate schedules: the learning rate for each epoch, from the optimiser's base rate.

A schedule maps a 0-based ``epoch`` and the configured ``base_lr`` to the
rate used during that epoch. Every schedule takes ``warmup_epochs``: during the
first ``warmup_epochs`` epochs the rate rises linearly to ``base_lr``
(``base_lr · (epoch + 1) / (warmup_epochs + 1)``), then the schedule proper
starts counting from 0.
"""

from __future__ import annotations

import math
from typing import Any

from . import checks
from .errors import InvalidArgument
from .registry import Configured, Registry


class Schedule(Configured):
    """Base class: subclasses implement :meth:`decay` for epochs after the warm-up.

    Args:
        warmup_epochs: epochs of linear warm-up before the schedule (≥ 0).
    """

    def __init__(self, warmup_epochs: int = 0) -> None:
        self.warmup_epochs = checks.integer("warmup_epochs", warmup_epochs, min=0)

    def __call__(self, epoch: int, base_lr: float) -> float:
        """The learning rate for 0-based ``epoch``."""
        if epoch < self.warmup_epochs:
            return base_lr * (epoch + 1) / (self.warmup_epochs + 1)
        return self.decay(epoch - self.warmup_epochs, base_lr)

    def decay(self, epoch: int, base_lr: float) -> float:
        """The rate ``epoch`` epochs after the warm-up."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, for configs."""
        return {"warmup_epochs": self.warmup_epochs}

    def fit_to(self, epochs: int) -> None:
        """Adapt to a run of ``epochs`` epochs (the :class:`~layernet.Trainer` calls this when it
        is created): a schedule whose length is left open spans the run. Default: nothing."""

    @property
    def length(self) -> int | None:
        """Epochs (warm-up included) after which the rate stops changing, or None when it never does."""
        return None

    def shorter_than(self, epochs: int) -> str | None:
        """A warning when the schedule ends before a run of ``epochs`` epochs does, else None."""
        length = self.length
        if length is None or length >= epochs:
            return None
        return (f"the {type(self).__name__} schedule ends after {length} epochs but the run trains "
                f"{epochs}; epochs {length + 1}-{epochs} keep its final rate (leave the schedule's "
                f"epochs out to span the run)")


SCHEDULES: Registry[Schedule] = Registry("schedule", Schedule, "layernet.SCHEDULES.register", "CosineDecay")


@SCHEDULES.register
class Constant(Schedule):
    """``lr = base_lr`` (after the optional warm-up)."""

    def decay(self, epoch: int, base_lr: float) -> float:
        return base_lr


@SCHEDULES.register
class StepDecay(Schedule):
    """``lr = base_lr · gamma ** (epoch // step_size)``.

    Args:
        step_size: epochs between drops (≥ 1).
        gamma: factor per drop, in (0, 1].
        warmup_epochs: see :class:`Schedule`.
    """

    def __init__(self, step_size: int = 10, gamma: float = 0.1, warmup_epochs: int = 0) -> None:
        super().__init__(warmup_epochs)
        self.step_size = checks.integer("step_size", step_size, min=1)
        self.gamma = checks.number("gamma", gamma, min=0.0, max=1.0, min_open=True)

    def decay(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)

    def get_config(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma, **super().get_config()}


@SCHEDULES.register
class ExponentialDecay(Schedule):
    """``lr = base_lr · gamma ** epoch``.

    Args:
        gamma: factor per epoch, in (0, 1].
        warmup_epochs: see :class:`Schedule`.
    """

    def __init__(self, gamma: float = 0.9, warmup_epochs: int = 0) -> None:
        super().__init__(warmup_epochs)
        self.gamma = checks.number("gamma", gamma, min=0.0, max=1.0, min_open=True)

    def decay(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** epoch

    def get_config(self) -> dict[str, Any]:
        return {"gamma": self.gamma, **super().get_config()}


@SCHEDULES.register
class CosineDecay(Schedule):
    """``lr = min_lr + (base_lr − min_lr) · (1 + cos(π · min(epoch, epochs) / epochs)) / 2``.

    Args:
        epochs: epochs from ``base_lr`` down to ``min_lr`` (≥ 1); None (the default) spans
            the run: the run's epochs minus the warm-up, set when the Trainer is created
            (after command-line overrides, and again on resume).
        min_lr: the final rate (≥ 0).
        warmup_epochs: see :class:`Schedule`.

    Attributes:
        span: the decay length in use (``epochs``, or the run's once fitted; None before).
    """

    def __init__(self, epochs: int | None = None, min_lr: float = 0.0, warmup_epochs: int = 0) -> None:
        super().__init__(warmup_epochs)
        self.epochs = None if epochs is None else checks.integer("epochs", epochs, min=1)
        self.min_lr = checks.number("min_lr", min_lr, min=0.0)
        self.span: int | None = self.epochs

    def fit_to(self, epochs: int) -> None:
        if self.epochs is None:
            self.span = max(epochs - self.warmup_epochs, 1)

    @property
    def length(self) -> int | None:
        return None if self.epochs is None else self.warmup_epochs + self.epochs

    def decay(self, epoch: int, base_lr: float) -> float:
        if self.span is None:
            raise InvalidArgument("epochs", None, "set, or the schedule used by a Trainer",
                                  "give CosineDecay(epochs=...), or train with it (the Trainer "
                                  "sets it to the run's epochs)")
        progress = min(epoch, self.span) / self.span
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2

    def get_config(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "min_lr": self.min_lr, **super().get_config()}


def get_schedule(spec: Schedule | str | dict[str, Any]) -> Schedule:
    """Resolve ``"CosineDecay"``, ``{"type": "StepDecay", "step_size": 5}`` or an instance."""
    return SCHEDULES.create(spec)


def schedule_config(schedule: Schedule) -> dict[str, Any]:
    """``{"type": registered name, **schedule.get_config()}`` (the inverse of :func:`get_schedule`)."""
    return SCHEDULES.config_of(schedule)

