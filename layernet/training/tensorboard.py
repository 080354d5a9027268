"""TensorBoard scalars: every epoch's history row written as TensorBoard events (the ``tensorboard`` extra).

The writer is tensorboardX's ``SummaryWriter``: a maintained, small package (numpy and
protobuf) that writes the event files TensorBoard reads, without TensorFlow or PyTorch.
It is an optional dependency, imported only when training starts; without it,
:class:`TensorBoard` refuses to be created and says how to install it.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LayernetError
from .callbacks import Callback

if TYPE_CHECKING:
    from .trainer import Trainer

#: How to get the writer when it is missing.
INSTALL_HINT = "pip install 'layernet[tensorboard]' (or pip install tensorboardX)"

#: The sub-folder of a run directory that ``train.tensorboard: true`` writes to.
RUN_SUBDIRECTORY = "tensorboard"

#: Numbers event files apart when one process starts several writers in one second
#: (tensorboardX names a file by its second and host only, and would overwrite it).
_WRITERS = itertools.count(1)


def tensorboard_available() -> bool:
    """Whether tensorboardX can be imported (nothing is imported)."""
    return importlib.util.find_spec("tensorboardX") is not None


def require_tensorboard(where: str) -> None:
    """Raise a one-line :class:`LayernetError` naming ``where`` (what asked for TensorBoard
    scalars) and the install command, when tensorboardX is not installed."""
    if not tensorboard_available():
        raise LayernetError(f"{where}: TensorBoard scalars need tensorboardX, which is not "
                            f"installed; {INSTALL_HINT}")


class TensorBoard(Callback):
    """Writes each epoch's history row to ``log_dir`` as TensorBoard scalars, Keras style.

    One scalar per history column, tagged with the column's name (``loss``, ``accuracy``,
    ``val_loss``, ``val_accuracy``, ``lr``, ``seconds`` and any column a callback adds),
    at step = the epoch number (1-based). An epoch's scalars reach the file within about a
    second, and the file is closed when ``fit`` ends, also after Ctrl-C or an error. Each
    ``fit`` writes a new event file beside the earlier ones, so a resumed run appends. When
    the folder already holds event files, a trainer at epoch ``k`` (0 for a fresh start)
    first marks the steps after ``k`` as purged: TensorBoard then hides what an earlier,
    interrupted attempt wrote beyond the checkpoint this run continues from. Into an empty
    folder, the epochs the trainer has already done (its history) are written first. View
    with ``tensorboard --logdir LOG_DIR``.

    Args:
        log_dir: the folder of the event files (created when training starts).

    Raises:
        LayernetError: tensorboardX is not installed (the message names the extra).

    Example:
        >>> ln.fit(model, x, y, epochs=5, callbacks=[ln.TensorBoard("logs/run1")])
    """

    def __init__(self, log_dir: str | Path = "logs") -> None:
        require_tensorboard("TensorBoard")
        self.log_dir = Path(log_dir)
        self._writer: Any = None

    def on_train_begin(self, trainer: Trainer) -> None:
        from tensorboardX import SummaryWriter

        self.close()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        earlier = any(self.log_dir.glob("events.out.tfevents.*"))
        self._writer = SummaryWriter(str(self.log_dir), purge_step=trainer.epoch + 1 if earlier else None,
                                     flush_secs=1, filename_suffix=f".{os.getpid()}.{next(_WRITERS)}")
        if not earlier:  # switched on for a run that has epochs already: write those first
            for row in trainer.history:
                self._add(int(row["epoch"]), row)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self._writer is not None:
            self._add(epoch, logs)
            self._writer.flush()

    def _add(self, epoch: int, row: dict[str, float]) -> None:
        for column, value in row.items():
            if column != "epoch":
                self._writer.add_scalar(column, float(value), epoch)

    def on_train_end(self, trainer: Trainer) -> None:
        self.close()

    def close(self) -> None:
        """Write what is pending and close the event file (``fit`` does this when it ends)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __repr__(self) -> str:
        return f"TensorBoard(log_dir={str(self.log_dir)!r})"
