"""Train settings to and from plain values (for checkpoints)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .settings import EarlyStopping as EarlyStoppingSettings
from .settings import TrainSettings


def settings_config(settings: TrainSettings) -> dict[str, Any]:
    """The settings as plain values (``early_stopping`` a nested mapping or None)."""
    return dataclasses.asdict(settings)


def settings_from_config(config: dict[str, Any]) -> TrainSettings:
    """The inverse of :func:`settings_config`; ``TypeError`` for unknown keys."""
    args = dict(config)
    stopping = args.pop("early_stopping", None)
    return TrainSettings(**args, early_stopping=None if stopping is None
                         else EarlyStoppingSettings(**stopping))
