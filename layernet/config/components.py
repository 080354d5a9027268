"""The ``loss``, ``optimizer`` and ``schedule`` sections: a registered name plus its arguments."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..losses import LOSSES, loss_config
from ..optimizers import OPTIMIZERS, optimizer_config
from ..parameter import Parameter
from ..schedules import SCHEDULES, schedule_config
from .arguments import build, split_spec
from .document import KeyPath, Problems
from .dump import plain

#: The sections' values when a config leaves them out.
DEFAULT_LOSS = "CrossEntropy"
DEFAULT_OPTIMIZER: dict[str, Any] = {"type": "Adam", "lr": 0.001}


def resolve_loss(problems: Problems, path: KeyPath, spec: Any) -> dict[str, Any] | None:
    """``CrossEntropy`` or ``{type: CrossEntropy, from_logits: false}`` -> the full loss config."""
    parts = split_spec(problems, path, spec, LOSSES)
    loss = None if parts is None else build(problems, path, *parts)
    return None if loss is None else plain(loss_config(loss))


def resolve_optimizer(problems: Problems, path: KeyPath, spec: Any) -> dict[str, Any] | None:
    """``{type: SGD, lr: 0.1}`` -> the full optimiser config (``params`` come from the model later)."""
    parts = split_spec(problems, path, spec, OPTIMIZERS)
    if parts is None:
        return None
    cls, args = parts
    probe = [Parameter(np.zeros(1, dtype=np.float32), name="probe")]
    optimizer = build(problems, path, cls, args, factory=functools.partial(cls, probe), skip=("params",))
    return None if optimizer is None else plain(optimizer_config(optimizer))


def resolve_schedule(problems: Problems, path: KeyPath, spec: Any) -> dict[str, Any] | None:
    """``{type: CosineDecay, epochs: 10}`` -> the full schedule config; None for no schedule."""
    if spec is None:
        return None
    parts = split_spec(problems, path, spec, SCHEDULES)
    schedule = None if parts is None else build(problems, path, *parts)
    return None if schedule is None else plain(schedule_config(schedule))
