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

from .registry import Configured, Registry


class Schedule(Configured):
    """Base class: subclasses implement :meth:`decay` for epochs after the warm-up.

    Args:
        warmup_epochs: epochs of linear warm-up before the schedule (≥ 0).
    """

    def __init__(self, warmup_epochs: int = 0) -> None:
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be an integer >= 0, got {warmup_epochs!r}")
        self.warmup_epochs = warmup_epochs

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


SCHEDULES: Registry[Schedule] = Registry("schedule", Schedule, "layernet.SCHEDULES.register")


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
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be an integer >= 1, got {step_size!r}")
        _check_factor(gamma)
        self.step_size = step_size
        self.gamma = float(gamma)

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
        _check_factor(gamma)
        self.gamma = float(gamma)

    def decay(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** epoch

    def get_config(self) -> dict[str, Any]:
        return {"gamma": self.gamma, **super().get_config()}


@SCHEDULES.register
class CosineDecay(Schedule):
    """``lr = min_lr + (base_lr − min_lr) · (1 + cos(π · min(epoch, epochs) / epochs)) / 2``.

    Args:
        epochs: epochs from ``base_lr`` down to ``min_lr`` (≥ 1).
        min_lr: the final rate (≥ 0).
        warmup_epochs: see :class:`Schedule`.
    """

    def __init__(self, epochs: int = 10, min_lr: float = 0.0, warmup_epochs: int = 0) -> None:
        super().__init__(warmup_epochs)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
        if not min_lr >= 0:
            raise ValueError(f"min_lr must be >= 0, got {min_lr!r}")
        self.epochs = epochs
        self.min_lr = float(min_lr)

    def decay(self, epoch: int, base_lr: float) -> float:
        progress = min(epoch, self.epochs) / self.epochs
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2

    def get_config(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "min_lr": self.min_lr, **super().get_config()}


def get_schedule(spec: Schedule | str | dict[str, Any]) -> Schedule:
    """Resolve ``"CosineDecay"``, ``{"type": "StepDecay", "step_size": 5}`` or an instance."""
    return SCHEDULES.create(spec)


def schedule_config(schedule: Schedule) -> dict[str, Any]:
    """``{"type": registered name, **schedule.get_config()}`` (the inverse of :func:`get_schedule`)."""
    return SCHEDULES.config_of(schedule)


def _check_factor(gamma: float) -> None:
    if isinstance(gamma, bool) or not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
