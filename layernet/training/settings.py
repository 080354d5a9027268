"""The ``train`` and ``data`` sections of a run config, as typed dataclasses.

The YAML loader validates those sections against these fields (names, types,
ranges in ``metadata``) and the trainer and data loaders consume them, so this
module is the single definition of both sections.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigError


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Attributes:
        monitor: a history column, ``val_loss`` by default (``val_accuracy``,
            ``loss`` and ``accuracy`` work too; accuracies are maximised).
        patience: epochs without improvement before stopping (≥ 1).
        min_delta: the smallest change that counts as an improvement (≥ 0).
        restore_best: put back the weights of the best epoch when stopping.
    """

    monitor: str = "val_loss"
    patience: int = field(default=3, metadata={"min": 1})
    min_delta: float = field(default=0.0, metadata={"min": 0.0})
    restore_best: bool = True


@dataclass(frozen=True)
class TrainSettings:
    """How to train: the ``train`` section.

    Attributes:
        epochs: passes over the training data (≥ 1).
        batch_size: rows per step, or ``"full"`` for full-batch gradient descent
            (the seeds' loop: one step per epoch on all the data).
        shuffle: reshuffle the training rows every epoch (from the seed).
        validation_split: fraction of the training rows held out for
            validation, in ``[0, 1)``; ignored when the data has a validation set.
        early_stopping: stop early when validation stops improving.
        checkpoint_every: write a checkpoint every N epochs (0: never).
        seed: seeds shuffling and the validation split (default: the model seed).
    """

    epochs: int = field(default=10, metadata={"min": 1})
    batch_size: int | Literal["full"] = field(default=32, metadata={"min": 1})
    shuffle: bool = True
    validation_split: float = field(default=0.0, metadata={"min": 0.0, "max_exclusive": 1.0})
    early_stopping: EarlyStopping | None = None
    checkpoint_every: int = field(default=1, metadata={"min": 0})
    seed: int | None = field(default=None, metadata={"min": 0})


@dataclass(frozen=True)
class DataSettings:
    """What to train on: the ``data`` section.

    Attributes:
        source: ``"sample"`` (the embedded MNIST sample), ``"mnist"`` (full
            MNIST, downloaded and cached), a directory of MNIST-format IDX
            files, a Kaggle-style ``.csv`` or an ``.npz`` with ``x`` and ``y``.
        test: a separate labelled test set (same forms as ``source``); by
            default the test part of ``source`` when it has one.
        normalize: ``"scale"`` divides pixels by 255 (the seeds);
            ``"standardize"`` also subtracts the training mean and divides by
            the training standard deviation; ``"none"`` keeps raw values.
        flatten: give the model ``(batch, 784)`` rows rather than ``(batch, 28, 28)`` images.
        limit: use only the first N training rows (quick experiments; ≥ 1).
    """

    source: str = "sample"
    test: str | None = None
    normalize: Literal["scale", "standardize", "none"] = "scale"
    flatten: bool = True
    limit: int | None = field(default=None, metadata={"min": 1})


def check_ranges(settings: Any, section: str) -> None:
    """Raise :class:`ConfigError` at ``section.<field>`` for a value outside its ``metadata`` range.

    The YAML loader reports the same ranges with line numbers; this covers
    settings built in Python. Nested settings (``early_stopping``) are checked too.
    """
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        path = f"{section}.{item.name}"
        if dataclasses.is_dataclass(value):
            check_ranges(value, path)
            continue
        low, high = item.metadata.get("min"), item.metadata.get("max_exclusive")
        if value is None or value == "full" or (low is None and high is None):
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        integer = "float" not in str(item.type)
        if (not number or (integer and not isinstance(value, int))
                or (low is not None and value < low) or (high is not None and value >= high)):
            bounds = " and ".join(part for part in (f">= {low}" if low is not None else "",
                                                     f"< {high}" if high is not None else "") if part)
            kind = "an integer" if integer else "a number"
            raise ConfigError(f"must be {kind} {bounds}, got {value!r}", path=path)
