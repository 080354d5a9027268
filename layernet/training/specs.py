"""Schedules and train settings to and from plain values (for ``fit`` arguments and checkpoints)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..schedules import SCHEDULES, Schedule
from .settings import EarlyStopping as EarlyStoppingSettings
from .settings import TrainSettings


def get_schedule(spec: Schedule | str | dict[str, Any]) -> Schedule:
    """Resolve ``"CosineDecay"``, ``{"type": "StepDecay", "step_size": 5}`` or an instance.

    Raises:
        layernet.registry.UnknownNameError: for an unregistered name.
        ValueError / TypeError: for bad arguments.
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        return SCHEDULES.get(spec)()
    args = dict(spec)
    return SCHEDULES.get(args.pop("type"))(**args)


def schedule_config(schedule: Schedule) -> dict[str, Any]:
    """``{"type": registered name, **schedule.get_config()}`` (the inverse of :func:`get_schedule`)."""
    return {"type": SCHEDULES.name_of(type(schedule)), **schedule.get_config()}


def settings_config(settings: TrainSettings) -> dict[str, Any]:
    """The settings as plain values (``early_stopping`` a nested mapping or None)."""
    return dataclasses.asdict(settings)


def settings_from_config(config: dict[str, Any]) -> TrainSettings:
    """The inverse of :func:`settings_config`; ``TypeError`` for unknown keys."""
    args = dict(config)
    stopping = args.pop("early_stopping", None)
    return TrainSettings(**args, early_stopping=None if stopping is None
                         else EarlyStoppingSettings(**stopping))
