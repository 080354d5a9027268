"""The ``train`` section of a run config, as typed dataclasses.

Field ranges are declared once, in ``metadata`` (:func:`layernet.checks.bounds`),
and enforced when an instance is created (``__post_init__``), so settings built
in Python and settings read from YAML pass the same checks; the YAML reference
prints the same ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .. import checks
from ..checks import bounds


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
    patience: int = field(default=3, metadata=bounds(min=1))
    min_delta: float = field(default=0.0, metadata=bounds(min=0.0))
    restore_best: bool = True

    def __post_init__(self) -> None:
        checks.check_fields(self)


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
        tensorboard: write every epoch's history row as TensorBoard scalars to the run
            directory's ``tensorboard/`` folder (``layernet train``; needs the ``tensorboard``
            extra). In Python, pass ``callbacks=[ln.TensorBoard(log_dir)]`` instead.
    """

    epochs: int = field(default=10, metadata=bounds(min=1))
    batch_size: int | Literal["full"] = field(default=32, metadata=bounds(min=1))
    shuffle: bool = True
    validation_split: float = field(default=0.0, metadata=bounds(min=0.0, max=1.0, max_open=True))
    early_stopping: EarlyStopping | None = None
    checkpoint_every: int = field(default=1, metadata=bounds(min=0))
    seed: int | None = field(default=None, metadata=bounds(min=0))
    tensorboard: bool = False

    def __post_init__(self) -> None:
        checks.check_fields(self)
        if isinstance(self.batch_size, str):
            checks.one_of("batch_size", self.batch_size, ("full",))


def settings_from_dict(config: dict[str, Any]) -> TrainSettings:
    """The inverse of ``dataclasses.asdict(settings)`` (``early_stopping`` a nested mapping or None).

    Raises:
        InvalidArgument: a value out of range. ``TypeError``: unknown keys.
    """
    args = dict(config)
    stopping = args.pop("early_stopping", None)
    return TrainSettings(**args, early_stopping=None if stopping is None else EarlyStopping(**stopping))
