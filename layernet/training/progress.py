"""Progress reporting for training: a tqdm bar per epoch on a terminal, one line per epoch otherwise.

The one module outside the CLI that writes: it is opt-in (``ln.fit(verbose=...)``, ``layernet
train``) and writes only to the stream it is given (standard error by default).
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Never, TextIO

from tqdm import tqdm

from .callbacks import BatchLogs, Callback, EarlyStopping

if TYPE_CHECKING:
    from .trainer import Trainer


def format_epoch(epoch: int, epochs: int, logs: dict[str, float]) -> str:
    """One history row as ``epoch 3/10  loss 0.2345  accuracy 0.9312  ...  2.1s``."""
    parts = [f"epoch {epoch}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        value = logs.get(key)
        if value is not None and not math.isnan(value):
            parts.append(f"{key} {value:.4f}")
    if "lr" in logs:
        parts.append(f"lr {logs['lr']:.3g}")
    if "seconds" in logs:
        parts.append(f"{logs['seconds']:.1f}s")
    return "  ".join(parts)


class Progress(Callback):
    """Reports training progress on ``stream``.

    On a terminal each epoch gets a tqdm bar (batches, loss, accuracy, speed,
    ETA) that updates in place and is replaced by the epoch's summary line;
    elsewhere (a pipe, a file, CI) only the summary line is printed, so logs
    contain no carriage returns.

    Args:
        epochs: the epoch count shown as ``epoch n/epochs``.
        stream: where to write (default: standard error).
        interactive: force the bar on or off (default: ``stream.isatty()``).
        header: a line printed when training starts.
    """

    #: The bar's postfix is refreshed at most this often (batches); tqdm limits redraws itself.
    POSTFIX_EVERY = 25

    def __init__(self, epochs: int, stream: TextIO | None = None, interactive: bool | None = None,
                 header: str = "") -> None:
        self.epochs = epochs
        self.header = header
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._bar: tqdm[Never] | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        if self.header:
            self._print(self.header)
        self._print(f"loss: {trainer.objective.describe()}")
        if trainer.schedule_note:
            self._print(f"warning: {trainer.schedule_note}")

    def on_batch_end(self, trainer: Trainer, batch: int, logs: BatchLogs) -> None:
        if not self.interactive:
            return
        if self._bar is None:
            self._bar = tqdm(total=logs.batches, desc=f"epoch {logs.epoch}/{self.epochs}",
                             unit="batch", file=self.stream, leave=False, dynamic_ncols=True)
        self._bar.update(batch - self._bar.n)
        if batch % self.POSTFIX_EVERY == 0 or batch == logs.batches:
            self._bar.set_postfix(loss=f"{logs.loss:.4f}", accuracy=f"{logs.accuracy:.4f}", refresh=False)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._print(format_epoch(epoch, self.epochs, logs))

    def on_train_end(self, trainer: Trainer) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        for callback in trainer.callbacks:
            if isinstance(callback, EarlyStopping) and callback.stopped_epoch:
                restored = (f"; restored the weights of epoch {callback.best_epoch}"
                            if callback.restore_best else "")
                self._print(f"early stopping after epoch {callback.stopped_epoch}: "
                            f"{callback.monitor.monitor} did not improve for {callback.patience} "
                            f"epoch{'s' if callback.patience != 1 else ''}{restored}")

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
