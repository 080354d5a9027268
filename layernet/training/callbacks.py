"""Callbacks: hooks the :class:`~layernet.training.Trainer` calls during ``fit``.

Epoch numbers given to callbacks are 1-based, as in the history. Batch-level
progress comes through :meth:`Callback.on_batch_end` with one reused
:class:`BatchLogs` object, so a progress bar costs no allocation per batch.
The checkpoint callback lives in :mod:`layernet.io.checkpoints`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import checks
from ..errors import InvalidArgument
from ..typing import Array
from .settings import EarlyStopping as EarlyStoppingSettings

if TYPE_CHECKING:
    from .trainer import Trainer


class BatchLogs:
    """Running metrics of the current epoch, updated in place after every batch.

    Attributes:
        epoch: the current epoch (1-based).
        batch: batches done in this epoch (1-based after the first batch).
        batches: batches in this epoch.
        samples: rows seen in this epoch.
        loss_sum: sum of batch loss × batch size.
        correct: rows classified correctly.
    """

    __slots__ = ("epoch", "batch", "batches", "samples", "loss_sum", "correct")

    def __init__(self) -> None:
        self.reset(0, 0)

    def reset(self, epoch: int, batches: int) -> None:
        """Start epoch ``epoch`` of ``batches`` batches."""
        self.epoch, self.batches = epoch, batches
        self.batch = self.samples = self.correct = 0
        self.loss_sum = 0.0

    def add(self, loss: float, correct: int, size: int) -> None:
        """Record one batch of ``size`` rows with mean ``loss`` and ``correct`` hits."""
        self.batch += 1
        self.samples += size
        self.loss_sum += loss * size
        self.correct += correct

    @property
    def loss(self) -> float:
        """Mean loss over the rows seen so far in this epoch."""
        return self.loss_sum / self.samples if self.samples else float("nan")

    @property
    def accuracy(self) -> float:
        """Fraction of rows seen so far in this epoch that were classified correctly."""
        return self.correct / self.samples if self.samples else float("nan")

    def __repr__(self) -> str:
        return (f"BatchLogs(epoch={self.epoch}, batch={self.batch}/{self.batches}, "
                f"loss={self.loss:.4g}, accuracy={self.accuracy:.4g})")


class Callback:
    """Base class: override any hook; each does nothing by default.

    Set ``trainer.stop_training = True`` in a hook to end ``fit`` after the
    current epoch.
    """

    def on_train_begin(self, trainer: Trainer) -> None:
        """Called once when ``fit`` starts."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Called before the first batch of ``epoch`` (1-based)."""

    def on_batch_end(self, trainer: Trainer, batch: int, logs: BatchLogs) -> None:
        """Called after the optimiser step of ``batch`` (1-based within the epoch).

        ``logs`` is reused for every batch; copy values out of it to keep them.
        """

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        """Called after ``epoch`` with its history row (already in ``trainer.history``)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """Called once when ``fit`` ends: normally, after early stopping or on an error."""


class Monitor:
    """Tracks the best value of one history column (accuracies are maximised, the rest minimised).

    Args:
        monitor: the history column, e.g. ``"val_loss"``.
        min_delta: the smallest change that counts as an improvement (≥ 0).
    """

    def __init__(self, monitor: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.min_delta = checks.number("min_delta", min_delta, min=0.0)
        self.maximize = monitor.endswith("accuracy")
        self.best: float | None = None

    def improved(self, logs: dict[str, float]) -> bool:
        """Whether ``logs[monitor]`` beats the best so far; if so it becomes the best."""
        if self.monitor not in logs:
            raise InvalidArgument("monitor", self.monitor, "a history column: " + ", ".join(logs),
                                  "add validation data or monitor 'loss'")
        value = logs[self.monitor]
        if self.best is None:
            better = True
        elif self.maximize:
            better = value > self.best + self.min_delta
        else:
            better = value < self.best - self.min_delta
        if better:
            self.best = value
        return better


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    (The ``train.early_stopping`` settings class is exported as
    ``EarlyStoppingSettings``; :meth:`from_settings` turns one into this callback.)

    Args:
        monitor: a history column; ``val_loss`` by default. Columns ending in
            ``accuracy`` are maximised, the others minimised.
        patience: epochs without improvement before stopping (≥ 1).
        min_delta: the smallest change that counts as an improvement (≥ 0).
        restore_best: when stopping, put back the weights of the best epoch.

    Attributes:
        best_epoch: the epoch (1-based) with the best value so far.
        stopped_epoch: the epoch after which training stopped, or 0.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 restore_best: bool = True) -> None:
        self.patience = checks.integer("patience", patience, min=1)
        self.monitor = Monitor(monitor, min_delta)
        self.restore_best = checks.flag("restore_best", restore_best)
        self.best_epoch = self.stopped_epoch = self.wait = 0
        self.best_weights: dict[str, Array] | None = None

    @classmethod
    def from_settings(cls, settings: EarlyStoppingSettings) -> EarlyStopping:
        """The callback described by a ``train.early_stopping`` section."""
        return cls(settings.monitor, settings.patience, settings.min_delta, settings.restore_best)

    def on_train_begin(self, trainer: Trainer) -> None:
        self.monitor.best = None
        self.best_epoch = self.stopped_epoch = self.wait = 0
        self.best_weights = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.monitor.improved(logs):
            self.best_epoch, self.wait = epoch, 0
            if self.restore_best:
                self.best_weights = trainer.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True
            self.stopped_epoch = epoch
            if self.best_weights is not None:
                trainer.model.set_weights(self.best_weights)

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor.monitor!r}, patience={self.patience}, "
                f"min_delta={self.monitor.min_delta}, restore_best={self.restore_best})")
