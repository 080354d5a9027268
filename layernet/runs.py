"""Run directories: train a config and keep every result of the run in one folder.

A run directory holds:

* ``config.yaml`` — the fully resolved config (every default written out);
* ``model.npz`` — the trained model (:func:`layernet.load_model`);
* ``history.csv`` — one row per epoch (epoch, loss, accuracy, val_loss, val_accuracy, lr,
  seconds), rewritten after every epoch, so it is live while the run trains;
* ``metrics.json`` — ``status`` (``running``, ``interrupted``, ``finished``), test loss and
  accuracy, time, parameter count, data sizes, the input preprocessing, versions, BLAS
  library and threads, the command line; rewritten after every epoch;
* ``checkpoints/last.npz`` and ``checkpoints/best.npz`` — for ``--resume``;
* ``*.png`` — plots, written by the command line (:mod:`layernet.cli.plots`).

Every file is written atomically: a crash leaves the previous version or none. This module
sits on floor 4 so that ``layernet train`` (the CLI) and ``layernet.sweeps`` (every trial is
a run directory) train through the same code.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import platform
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .atomic import special_file, write_text
from .config import RunConfig
from .config.sections import plugin_root
from .data import DataSplits, Dataset, load_data
from .errors import LayernetError, ModelFileError, TrainingDivergedError
from .io.checkpoints import Checkpoint, restore_checkpoint, save_checkpoint
from .training import Callback, Evaluation, Trainer
from .training.metrics import check_fits

CONFIG_FILE = "config.yaml"
MODEL_FILE = "model.npz"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
CHECKPOINTS = "checkpoints"
LOCK_FILE = ".lock"


@contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s exclusive lock (``directory/.lock``, created with the directory when
    missing, holding our pid) for the duration; the OS releases it when the process ends.

    Raises:
        LayernetError: another process holds it (the message names its pid).
    """
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK_FILE
    if lock.is_symlink() or special_file(lock) is not None:  # never write through it
        raise LayernetError(f"{lock}: is not a lock file (a symbolic link, pipe or device); "
                            "remove it, then try again")
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(descriptor)
        os.close(descriptor)
        raise LayernetError(f"{directory}: is in use by another layernet process ({holder}); wait "
                            f"for it to end or stop it, then try again") from None
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(descriptor)


def _lock_holder(descriptor: int) -> str:
    """``"pid N"`` from a lock file another process holds (it may still be writing it)."""
    for _ in range(50):
        text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
        if text.isdigit():
            return f"pid {text}"
        time.sleep(0.01)
    return "pid unknown"


def plugin_folders(config: RunConfig) -> dict[str, str]:
    """Where each of ``config``'s (imported) plugins was found, for ``metrics.json``."""
    folders = {name: plugin_root(name) for name in config.plugins}
    return {name: str(folder) for name, folder in folders.items() if folder is not None}


@dataclass
class RunResult:
    """What :func:`train_run` produced.

    Attributes:
        directory: the run directory.
        trainer: the trainer (its ``model`` and ``history``).
        test: the test-set evaluation, or None when the data has no test split.
        test_data: the test split it was computed on.
        metrics: the contents of ``metrics.json``.
    """

    directory: Path
    trainer: Trainer
    test: Evaluation | None
    test_data: Dataset | None
    metrics: dict[str, Any]


def default_run_directory(config: RunConfig, root: Path = Path("runs")) -> Path:
    """``runs/<config name>-<UTC timestamp>`` (not created; :func:`claim_run_directory` creates one)."""
    stem = Path(config.source).stem if config.source and config.source != "<string>" else "run"
    return root / f"{stem}-{utc_stamp()}"


def utc_stamp() -> str:
    """The current UTC time as ``YYYYmmdd-HHMMSS``, for directory names."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def claim_run_directory(config: RunConfig, root: Path = Path("runs")) -> Path:
    """Create and return a new, empty run directory ``runs/<config name>-<UTC timestamp>[-N]``
    (see :func:`claim_new_directory`)."""
    return claim_new_directory(default_run_directory(config, root))


def claim_new_directory(base: Path) -> Path:
    """Create and return a new, empty directory ``base`` or ``base-N``.

    The directory is created with ``mkdir(exist_ok=False)``, so two trainings (or sweeps)
    started in the same second (in other processes, too) never share one: the second one
    gets ``-2``, then ``-3``...
    """
    base.parent.mkdir(parents=True, exist_ok=True)
    for suffix in range(1, 10_000):
        candidate = base if suffix == 1 else base.with_name(f"{base.name}-{suffix}")
        try:
            candidate.mkdir(exist_ok=False)
        except FileExistsError:
            continue
        return candidate
    raise LayernetError(f"{base.parent}: could not create a new directory after {base.name}-9999")


def prepare_run(config: RunConfig, callbacks: Sequence[Callback] = ()) -> tuple[Trainer, DataSplits]:
    """Load the data and build the model, loss, optimiser, schedule and trainer of ``config``.

    Raises:
        LayernetError: bad data, or data whose samples do not fit the model's input shape.
    """
    splits = load_data(config.data, shape=config.model.get("input_shape"))
    model = config.build_model()
    check_fits(model, splits.train)
    trainer = Trainer(model, config.build_loss(), config.build_optimizer(model.parameters()),
                      schedule=config.build_schedule(), settings=config.train, callbacks=callbacks)
    return trainer, splits


class RunFiles(Callback):
    """Keeps ``history.csv`` and ``metrics.json`` current: both are rewritten (atomically)
    after every epoch, and ``metrics.json`` says ``interrupted`` when training stops early."""

    def __init__(self, directory: Path, config: RunConfig, splits: DataSplits,
                 environment: dict[str, Any]) -> None:
        self.directory, self.config, self.splits = directory, config, splits
        self.environment = environment
        self.started = time.perf_counter()

    def on_train_begin(self, trainer: Trainer) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.write(trainer, "running")

    def write(self, trainer: Trainer, status: str, test: Evaluation | None = None) -> dict[str, Any]:
        """Write both files for ``trainer``'s state now; returns the metrics. A run's last write
        (any ``status`` but ``running``) always waits for the disk; see :mod:`layernet.atomic`."""
        durable = True if status != "running" else None
        write_text(self.directory / HISTORY_FILE, trainer.history.csv_text(), durable=durable)
        metrics = run_metrics(self.config, trainer, self.splits, test,
                              time.perf_counter() - self.started, status=status,
                              environment=self.environment)
        write_text(self.directory / METRICS_FILE, standard_json(metrics, indent=2) + "\n", durable=durable)
        return metrics


def train_run(config: RunConfig, directory: Path, *, resume: bool = False,
              callbacks: Sequence[Callback] = (), claimed: bool = False,
              environment: dict[str, Any] | None = None) -> RunResult:
    """Train ``config`` and write the run directory ``directory``.

    Nothing is written until the data is loaded and the model is built, and a
    new directory is removed again if training fails before its first epoch
    ends, so a bad config or data file leaves no directory behind (``claimed``:
    the caller created ``directory`` empty for this run, see
    :func:`claim_run_directory`; it is removed likewise). With ``resume`` the run
    continues from ``directory/checkpoints/last.npz`` up to ``config.train.epochs``
    epochs in total (see :func:`resume_from`: a run without a checkpoint restarts in
    place, a run whose checkpoint has every epoch is only finalised).

    A run that diverges (:class:`TrainingDivergedError`) keeps its last good model:
    ``model.npz`` is written from ``checkpoints/best.npz`` (else ``last.npz``) and
    ``metrics.json`` says ``diverged``.
    """
    created = claimed or not directory.exists()
    checkpoints = Checkpoint(directory / CHECKPOINTS, every=config.train.checkpoint_every)
    trainer: Trainer | None = None
    try:
        trainer, splits = prepare_run(config, [*callbacks, checkpoints])
        files = RunFiles(directory, config, splits,
                         {**(environment or {}), "plugin_folders": plugin_folders(config)})
        trainer.callbacks.append(files)
        if resume:
            resume_from(directory, trainer)
            trainer.base_lr = float(config.optimizer.get("lr", trainer.base_lr))  # --allow-changes --lr
        directory.mkdir(parents=True, exist_ok=True)
        write_text(directory / CONFIG_FILE, config.to_yaml())
        trainer.fit(splits.train)
    except TrainingDivergedError as error:
        if trainer is not None and trainer.history.rows:
            raise _keep_last_good(directory, trainer, files, checkpoints, error) from None
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    except LayernetError:
        if created and (trainer is None or not trainer.history.rows):
            shutil.rmtree(directory, ignore_errors=True)
        raise
    except KeyboardInterrupt:
        if trainer is not None and trainer.history.rows:
            if not trainer.mid_epoch:  # stopped between epochs: the weights are the last epoch's
                save_checkpoint(checkpoints.last_path, trainer)
            files.write(trainer, "interrupted")
        elif created:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    test = trainer.evaluate(splits.test) if splits.test is not None else None
    trainer.model.save(directory / MODEL_FILE)  # with its preprocessing, set by fit from the data
    metrics = files.write(trainer, "finished", test)
    return RunResult(directory, trainer, test, splits.test, metrics)


def _keep_last_good(directory: Path, trainer: Trainer, files: RunFiles, checkpoints: Checkpoint,
                    error: TrainingDivergedError) -> TrainingDivergedError:
    """Write ``model.npz`` from the best (else last) checkpoint of a diverged run and mark it
    ``diverged`` in ``metrics.json``; the error to raise, saying where the model is."""
    diverged_at = trainer.epoch + 1
    good = next((path for path in (checkpoints.best_path, checkpoints.last_path) if path.exists()), None)
    files.environment = {**files.environment, "diverged_at_epoch": diverged_at}
    if good is None:
        files.write(trainer, "diverged")
        return TrainingDivergedError(f"{error}; no checkpoint was written before, so there is no good "
                                     f"model; restart it with layernet train --resume {directory} "
                                     "--allow-changes --lr SMALLER")
    preprocessing = trainer.model.preprocessing
    restore_checkpoint(good, trainer)
    trainer.model.preprocessing = preprocessing
    trainer.model.save(directory / MODEL_FILE)
    files.write(trainer, "diverged")
    return TrainingDivergedError(f"{error}; the last good model (epoch {trainer.epoch}, "
                                 f"{good.relative_to(directory)}) is in {directory / MODEL_FILE}; continue "
                                 f"with layernet train --resume {directory} --allow-changes --lr SMALLER")


def resume_from(directory: Path, trainer: Trainer) -> None:
    """Load ``directory``'s last checkpoint into ``trainer``.

    Without a checkpoint the run restarts in place from epoch 0. A checkpoint holding
    every epoch with no ``model.npz`` yet (killed while finishing) is only finalised.
    A finished run is refused: more epochs are needed to continue it.
    """
    last = directory / CHECKPOINTS / "last.npz"
    if not last.exists():
        return
    try:
        restore_checkpoint(last, trainer)
    except ModelFileError as error:
        raise ModelFileError(f"{error}; resume with the run's own config: layernet train "
                             f"{directory / CONFIG_FILE} --resume {directory}") from None
    if trainer.epoch >= trainer.settings.epochs and (directory / MODEL_FILE).exists():
        raise LayernetError(f"{directory}: already trained for {trainer.epoch} epochs; pass "
                            f"--epochs greater than {trainer.epoch} to continue it")


def run_metrics(config: RunConfig, trainer: Trainer, splits: DataSplits, test: Evaluation | None,
                seconds: float, *, status: str = "finished",
                environment: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``metrics.json`` contents of a run (``status``: running, interrupted or finished;
    ``environment``: extra entries such as the BLAS threads and the command line)."""
    validation = trainer.validation_index
    train_rows = len(splits.train) - (0 if validation is None else len(validation))
    last = trainer.history.rows[-1] if len(trainer.history) else {}
    return {
        "status": status,
        "test_loss": None if test is None else test.loss,
        "test_accuracy": None if test is None else test.accuracy,
        "final": dict(last),
        "epochs": trainer.epoch,
        "train_seconds": round(sum(trainer.history["seconds"]), 3),
        "session_seconds": round(seconds, 3),
        "parameters": trainer.model.num_parameters,
        "samples": {"train": train_rows, "validation": 0 if validation is None else len(validation),
                    "test": 0 if splits.test is None else len(splits.test)},
        "data": {"source": config.data.source, "name": splits.train.name},
        "preprocessing": preprocessing(splits.train),
        "versions": {"layernet": __version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        **(environment or {}),
        "finished" if status == "finished" else "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def preprocessing(data: Dataset) -> dict[str, float]:
    """The normalisation ``(x − shift) · scale`` of ``data``, for prediction inputs."""
    return {"shift": float(np.asarray(data.shift)), "scale": float(np.asarray(data.scale))}


def standard_json(value: Any, indent: int | None = None) -> str:
    """``value`` as standard JSON: nan and infinities (a diverged loss) become ``null``."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
