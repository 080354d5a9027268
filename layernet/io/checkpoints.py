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
from ..archive import (Arrays, NpzReader, check_format, header, json_array, json_entry, prefixed,
                       write_archive)
from ..errors import LayernetError, ModelFileError, UnknownNameError
from ..losses import get_loss, loss_config
from ..optimizers import get_optimizer, optimizer_config
from ..schedules import get_schedule, schedule_config
from ..training.callbacks import Callback, Monitor
from ..training.history import History, Row
from ..training.settings import settings_from_dict
from ..training.trainer import Trainer
from .models import describe, listing, model_for_weights, read_weights, weight_mismatches

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
        ModelFileError: the file is missing, corrupt, not a checkpoint, names
            an unregistered layer, loss, optimiser or schedule, or holds weights,
            optimiser state or training state that is incomplete, out of range or
            not finite (the message names the entry).
    """
    with _open(path) as archive:
        arrays = _read_small_entries(archive, path)
        configs = {key: json_entry(arrays, f"config/{key}", path) for key in CONFIGS}
        model = model_for_weights(configs["model"], archive, "weights/", "checkpoint")
        trainer = _registered(path, lambda: Trainer(
            model, get_loss(configs["loss"]), get_optimizer(configs["optimizer"], model.parameters()),
            schedule=None if configs["schedule"] is None else get_schedule(configs["schedule"]),
            settings=settings_from_dict(configs["settings"]), callbacks=callbacks))
        _restore(archive, arrays, trainer, path)
    return trainer


def restore_checkpoint(path: str | Path, trainer: Trainer) -> None:
    """Load the state saved in ``path`` into ``trainer`` (same architecture and optimiser type).

    The trainer keeps its own loss, schedule and settings; weights, optimiser
    state, epoch, seed, generator states and history come from the file.
    Everything is checked before anything is changed.

    Raises:
        ModelFileError: the file is unreadable or damaged, or its model or
            optimiser does not match the trainer's (the message gives both architectures).
    """
    with _open(path) as archive:
        _restore(archive, _read_small_entries(archive, path), trainer, path)


def _checkpoint_entry(key: str) -> bool:
    return (key in SMALL_ENTRIES or key.startswith(("config/", "weights/", "optimizer/")))


#: The entries read before the model is built (weights and optimiser state come after their check).
SMALL_ENTRIES = ("format", "format_version", "layernet_version", "state",
                 *(f"config/{key}" for key in CONFIGS))


def _open(path: str | Path) -> NpzReader:
    return NpzReader(path, keep=_checkpoint_entry)


def _read_small_entries(archive: NpzReader, path: str | Path) -> Arrays:
    arrays = {key: archive.read(key) for key in SMALL_ENTRIES if key in archive.entries}
    arrays.update({key: archive.read(key) for key in archive.entries
                   if key.startswith("config/") and key not in arrays})
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


STATE_KEYS = ("epoch", "base_lr", "seed", "model_rng", "shuffle_rng", "history")


def _parse_state(value: Any, path: str | Path, generator: np.random.BitGenerator) -> _State:
    """Check the ``state`` entry: every key present, numbers in range, generator states of
    ``generator``'s kind and valid, history rows of numbers."""
    def invalid(detail: str) -> ModelFileError:
        return ModelFileError(f"{path}: the training state entry is invalid ({detail}); the "
                              "checkpoint is damaged (restore it from a backup)")

    if not isinstance(value, dict):
        raise invalid(f"expected a mapping, got {type(value).__name__}")
    missing = [key for key in STATE_KEYS if key not in value]
    if missing:
        raise invalid(f"missing {', '.join(missing)}")
    try:
        epoch = checks.integer("epoch", value["epoch"], min=0)
        base_lr = checks.number("base_lr", value["base_lr"], min=0.0, min_open=True)
        seed = checks.integer("seed", value["seed"], min=0, max=2**128)
    except LayernetError as error:
        raise invalid(str(error)) from None
    rngs = [_rng_state(value[key], key, generator, invalid) for key in ("model_rng", "shuffle_rng")]
    history = value["history"]
    if not isinstance(history, list):
        raise invalid(f"history must be a list of rows, got {type(history).__name__}")
    if len(history) > epoch:
        raise invalid(f"history has {len(history)} rows for {epoch} completed epochs")
    for number, row in enumerate(history, start=1):
        if not isinstance(row, dict) or not all(
                isinstance(key, str) and isinstance(item, (int, float)) and not isinstance(item, bool)
                for key, item in row.items()):
            raise invalid(f"history row {number} is not a mapping of names to numbers")
    return _State(epoch, base_lr, seed, rngs[0], rngs[1], [dict(row) for row in history])


def _rng_state(value: Any, key: str, generator: np.random.BitGenerator,
               invalid: Callable[[str], ModelFileError]) -> dict[str, Any]:
    """``value`` checked as a state of ``generator``'s kind (same keys, integers in range)."""
    template = generator.state
    kind = template.get("bit_generator")
    if not isinstance(value, dict) or value.get("bit_generator") != kind:
        found = value.get("bit_generator") if isinstance(value, dict) else type(value).__name__
        raise invalid(f"{key} must be a {kind} generator state, got {found!r}")
    _same_structure(value, template, key, invalid)
    try:
        fresh = type(generator)()
        fresh.state = value
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise invalid(f"{key} is not a valid {kind} state: {error}") from None
    return dict(value)


def _same_structure(value: Any, template: Any, where: str,
                    invalid: Callable[[str], ModelFileError]) -> None:
    if isinstance(template, dict):
        if not isinstance(value, dict) or set(value) != set(template):
            raise invalid(f"{where} must have the keys {sorted(template)}")
        for name in template:
            _same_structure(value[name], template[name], f"{where}.{name}", invalid)
    elif isinstance(template, int) and not isinstance(template, bool):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**128:
            raise invalid(f"{where} must be an integer from 0 to 2**128 - 1, got {str(value)[:40]}")


def _restore(archive: NpzReader, arrays: Arrays, trainer: Trainer, path: str | Path) -> None:
    """Check everything in the checkpoint against ``trainer``, then load it."""
    state = _parse_state(json_entry(arrays, "state", path), path, trainer.model.rng.bit_generator)
    _check_architecture(archive, arrays, trainer, path)
    _check_optimizer(arrays, trainer, path)
    weights = read_weights(archive, trainer.model, "weights/", "checkpoint")
    optimizer_state = _optimizer_state(archive, trainer, path)
    try:
        trainer.optimizer.load_state_dict(optimizer_state)
    except (LayernetError, KeyError, ValueError, TypeError) as error:
        raise ModelFileError(f"{path}: the optimizer state does not fit ({error}); the "
                             "checkpoint is damaged or from another run") from None
    trainer.model.set_weights(weights)
    trainer.epoch, trainer.base_lr, trainer.seed = state.epoch, state.base_lr, state.seed
    trainer.model.rng.bit_generator.state = state.model_rng
    trainer.shuffle_rng.bit_generator.state = state.shuffle_rng
    trainer.history = History(state.history)


def _optimizer_state(archive: NpzReader, trainer: Trainer, path: str | Path) -> Arrays:
    """The ``optimizer/`` entries, checked from their headers (names, shapes, dtypes) before
    they are read, then for finite values and completeness."""
    optimizer = trainer.optimizer
    name = type(optimizer).__name__
    scalars = [key for key, value in optimizer.state_dict().items() if np.ndim(value) == 0]
    slots = list(optimizer.slots)
    declared = {key[len("optimizer/"):]: entry for key, entry in archive.entries.items()
                if key.startswith("optimizer/")}

    def damaged(detail: str) -> ModelFileError:
        return ModelFileError(f"{path}: the optimizer state does not fit: {detail}; the "
                              "checkpoint is damaged or from another run")

    unknown = sorted(set(declared) - set(scalars) - set(slots))
    if unknown:
        raise damaged(f"entry 'optimizer/{unknown[0]}' is not part of {name}'s state "
                      f"({', '.join(scalars + slots)})")
    missing = [key for key in scalars if key not in declared]
    if missing:
        raise damaged(f"entry 'optimizer/{missing[0]}' is missing")
    for key in scalars:
        entry = declared[key]
        if entry.shape != () or entry.dtype.kind not in ("iu" if key == "steps" else "iuf"):
            raise damaged(f"entry 'optimizer/{key}' should be one number, got {entry.describe()}")
    present = [slot for slot in slots if slot in declared]
    for slot in present:
        entry = declared[slot]
        if entry.shape != (optimizer.size,) or entry.dtype.kind != "f":
            raise damaged(f"entry 'optimizer/{slot}' holds {entry.describe()}, {name} needs "
                          f"{optimizer.size} floats (one per parameter)")
    values = {key: archive.read("optimizer/" + key) for key in declared}
    steps = int(values["steps"]) if "steps" in values else 0
    if slots and len(present) != len(slots) and (present or steps > 0):
        absent = [slot for slot in slots if slot not in present]
        raise damaged(f"{name} took {steps} steps but the entries "
                      f"{', '.join(f'optimizer/{slot}' for slot in absent)} are missing")
    for key, value in values.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise damaged(f"entry 'optimizer/{key}' holds NaN or infinite values")
    return values


def _check_architecture(archive: NpzReader, arrays: Arrays, trainer: Trainer, path: str | Path) -> None:
    declared = {key[len("weights/"):]: (entry.shape, entry.dtype)
                for key, entry in archive.entries.items() if key.startswith("weights/")}
    wrong = weight_mismatches(trainer.model, declared, "checkpoint")
    if wrong:
        stored = describe(model_for_weights(json_entry(arrays, "config/model", path), archive, "weights/",
                                            "checkpoint"))
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
