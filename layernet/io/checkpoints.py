"""Checkpoints: everything a run needs to continue bit for bit, in one atomically written ``.npz``.

A checkpoint holds, besides ``format`` (``"layernet-checkpoint"``),
``format_version`` and ``layernet_version``:

* ``config/model``, ``config/loss``, ``config/optimizer`` (with the base
  learning rate), ``config/schedule`` (or ``null``), ``config/settings`` — JSON text;
* ``weights/<name>`` — the parameters, as in a model file;
* ``optimizer/<key>`` — ``optimizer.state_dict()`` (step count, rate, moments);
* ``state`` — JSON text: completed ``epoch``, ``base_lr``, ``seed`` (which
  fixes the validation split), the bit-generator states of the model (dropout
  masks) and of the shuffling generator, and the ``history`` rows.

:func:`load_checkpoint` builds a new :class:`Trainer` from the file;
:func:`restore_checkpoint` loads the state into an existing one of the same
architecture. Either way the next ``fit`` continues exactly where the saved
run stopped. Callbacks keep no state in the file (an ``EarlyStopping``
patience count starts afresh).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import checks
from ..archive import (Arrays, check_format, header, json_array, json_entry, prefixed,
                       read_archive, unprefixed, write_archive)
from ..errors import LayernetError, ModelFileError, UnknownNameError
from ..losses import get_loss, loss_config
from ..optimizers import get_optimizer, optimizer_config
from ..schedules import get_schedule, schedule_config
from ..training.callbacks import Callback, Monitor
from ..training.history import History, Row
from ..training.settings import settings_from_dict
from ..training.trainer import Trainer
from .models import describe, listing, model_from_config, weight_mismatches

CHECKPOINT_FORMAT = "layernet-checkpoint"
CONFIGS = ("model", "loss", "optimizer", "schedule", "settings")

T = TypeVar("T")


def save_checkpoint(path: str | Path, trainer: Trainer) -> None:
    """Write ``trainer``'s full state to the ``.npz`` file ``path``, atomically.

    Raises:
        ModelFileError: a layer, loss, optimiser or schedule is not registered.
    """
    configs = _registered(path, lambda: {
        "model": trainer.model.get_config(),
        "loss": loss_config(trainer.loss),
        "optimizer": {**optimizer_config(trainer.optimizer), "lr": trainer.base_lr},
        "schedule": None if trainer.schedule is None else schedule_config(trainer.schedule),
        "settings": dataclasses.asdict(trainer.settings)})
    state = {"epoch": trainer.epoch, "base_lr": trainer.base_lr, "seed": trainer.seed,
             "model_rng": trainer.model.rng.bit_generator.state,
             "shuffle_rng": trainer.shuffle_rng.bit_generator.state,
             "history": trainer.history.rows}
    write_archive(path, {**header(CHECKPOINT_FORMAT),
                         **{f"config/{key}": json_array(value) for key, value in configs.items()},
                         "state": json_array(state),
                         **prefixed("weights/", trainer.model.get_weights()),
                         **prefixed("optimizer/", trainer.optimizer.state_dict())})


def load_checkpoint(path: str | Path, *, callbacks: Sequence[Callback] = ()) -> Trainer:
    """A new :class:`Trainer` (model, loss, optimiser, schedule, settings) rebuilt from the
    checkpoint ``path`` with its state restored; ``fit`` on it continues the saved run.

    Raises:
        ModelFileError: the file is missing, corrupt, not a checkpoint, or names
            an unregistered layer, loss, optimiser or schedule.
    """
    arrays = _read(path)
    configs = {key: json_entry(arrays, f"config/{key}", path) for key in CONFIGS}
    model = model_from_config(configs["model"], path)
    trainer = _registered(path, lambda: Trainer(
        model, get_loss(configs["loss"]), get_optimizer(configs["optimizer"], model.parameters()),
        schedule=None if configs["schedule"] is None else get_schedule(configs["schedule"]),
        settings=settings_from_dict(configs["settings"]), callbacks=callbacks))
    _restore(arrays, trainer, path)
    return trainer


def restore_checkpoint(path: str | Path, trainer: Trainer) -> None:
    """Load the state saved in ``path`` into ``trainer`` (same architecture and optimiser type).

    The trainer keeps its own loss, schedule and settings; weights, optimiser
    state, epoch, seed, generator states and history come from the file.

    Raises:
        ModelFileError: the file is unreadable, or its model or optimiser does
            not match the trainer's (the message gives both architectures).
    """
    _restore(_read(path), trainer, path)


def _read(path: str | Path) -> Arrays:
    arrays = read_archive(path)
    check_format(arrays, path, CHECKPOINT_FORMAT)
    return arrays


@dataclass(frozen=True)
class _State:
    """The checked ``state`` entry of a checkpoint."""

    epoch: int
    base_lr: float
    seed: int
    model_rng: dict[str, Any]
    shuffle_rng: dict[str, Any]
    history: list[Row]


def _parse_state(value: Any, path: str | Path) -> _State:
    """Check the ``state`` entry, including that both generator states are valid."""
    try:
        state = _State(checks.integer("epoch", value["epoch"], min=0),
                       checks.number("base_lr", value["base_lr"], min=0.0, min_open=True),
                       checks.integer("seed", value["seed"], min=0),
                       dict(value["model_rng"]), dict(value["shuffle_rng"]),
                       [dict(row) for row in value["history"]])
        for rng_state in (state.model_rng, state.shuffle_rng):
            np.random.default_rng(0).bit_generator.state = rng_state
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise ModelFileError(f"{path}: the training state entry is invalid ({error!r})") from None
    return state


def _restore(arrays: Arrays, trainer: Trainer, path: str | Path) -> None:
    """Check everything in ``arrays`` against ``trainer``, then load it."""
    state = _parse_state(json_entry(arrays, "state", path), path)
    weights = unprefixed("weights/", arrays)
    _check_architecture(arrays, weights, trainer, path)
    _check_optimizer(arrays, trainer, path)
    try:
        trainer.optimizer.load_state_dict(unprefixed("optimizer/", arrays))
    except (LayernetError, KeyError, ValueError, TypeError) as error:
        raise ModelFileError(f"{path}: the optimizer state does not fit ({error})") from None
    trainer.model.set_weights(weights)
    trainer.epoch, trainer.base_lr, trainer.seed = state.epoch, state.base_lr, state.seed
    trainer.model.rng.bit_generator.state = state.model_rng
    trainer.shuffle_rng.bit_generator.state = state.shuffle_rng
    trainer.history = History(state.history)


def _check_architecture(arrays: Arrays, weights: Arrays, trainer: Trainer, path: str | Path) -> None:
    wrong = weight_mismatches(trainer.model, weights, "checkpoint")
    if wrong:
        stored = describe(model_from_config(json_entry(arrays, "config/model", path), path))
        raise ModelFileError(f"{path}: checkpoint is for a model {stored}, this model is "
                             f"{describe(trainer.model)} ({listing(wrong)})")


def _check_optimizer(arrays: Arrays, trainer: Trainer, path: str | Path) -> None:
    stored = json_entry(arrays, "config/optimizer", path)
    ours = _registered(path, lambda: optimizer_config(trainer.optimizer))["type"]
    theirs = stored.get("type") if isinstance(stored, dict) else None
    if theirs != ours:
        raise ModelFileError(f"{path}: the checkpoint holds {theirs} optimizer state, this "
                             f"trainer uses {ours}; create the trainer with {theirs}")


def _registered(path: str | Path, make: Callable[[], T]) -> T:
    """``make()``, turning registry misses and bad stored arguments into :class:`ModelFileError`."""
    try:
        return make()
    except ModelFileError:
        raise
    except UnknownNameError as error:
        raise ModelFileError(f"{path}: {error.kind} {error.name!r} is not registered; import the "
                             f"module that defines it before saving or loading ({error.hint})") from None
    except (LayernetError, KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: a stored config is invalid ({error}); if it names a class of "
                             f"your own, import the module that defines it first") from None


class Checkpoint(Callback):
    """Save checkpoints into ``directory``: ``last.npz`` every ``every`` epochs and
    ``best.npz`` whenever ``monitor`` improves. Writes are atomic, so a crash
    never leaves a half-written file under either name.

    Args:
        directory: folder for the files (created when missing).
        every: write ``last.npz`` every N epochs (0: never, only ``best.npz``).
        monitor: the history column that decides "best"; by default
            ``val_loss`` when there is validation data, else ``loss``.
        save_best: whether to keep ``best.npz`` at all.

    Attributes:
        last_path, best_path: the two files' paths.
    """

    def __init__(self, directory: str | Path, every: int = 1, monitor: str | None = None,
                 save_best: bool = True) -> None:
        self.directory = Path(directory)
        self.every = checks.integer("every", every, min=0)
        self.monitor_name = monitor
        self.save_best = save_best
        self.last_path = self.directory / "last.npz"
        self.best_path = self.directory / "best.npz"
        self._monitor: Monitor | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._monitor = None
        for row in trainer.history.rows:  # a resumed run: the best so far is in its history
            self._improved(row)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.every and epoch % self.every == 0:
            save_checkpoint(self.last_path, trainer)
        if self.save_best and self._improved(logs):
            save_checkpoint(self.best_path, trainer)

    def _improved(self, logs: dict[str, float]) -> bool:
        if self._monitor is None:
            name = self.monitor_name or ("val_loss" if "val_loss" in logs else "loss")
            self._monitor = Monitor(name)
        return self._monitor.improved(logs)

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.directory)!r}, every={self.every}, monitor={self.monitor_name!r})"
