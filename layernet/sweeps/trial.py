"""One trial on a worker: train its config into its own run directory, exactly once.

:func:`run_trial` is what the sweep sends to Dask. It is idempotent: Dask runs a task
again when the worker holding its result dies, so a trial whose directory already holds
its outcome (``trial.json``) returns that outcome without training; a directory left
half-trained by a killed worker is continued from its last checkpoint
(``layernet train --resume``), never started over beside it.

:class:`PruningCallback` reports the metric after every epoch to the Optuna trial and stops
training when the trial's pruner says so; it works with :func:`layernet.fit` too.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import write_text
from ..config import load_run_config
from ..config.document import one_line
from ..errors import InvalidArgument, LayernetError
from ..runs import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, run_lock, train_run
from ..training import Callback, History, Trainer
from ..training.threads import blas_info, blas_threads
from .search import build_pruner, open_study, quiet_optuna
from .spec import PrunerSettings

if TYPE_CHECKING:
    import optuna

#: The outcome a trial leaves in its run directory, next to the run's own files.
OUTCOME_FILE = "trial.json"
#: Trial states, as Optuna names them.
COMPLETE, PRUNED, FAIL = "COMPLETE", "PRUNED", "FAIL"


class PruningCallback(Callback):
    """Report ``monitor`` to an Optuna trial after every epoch; stop when it should be pruned.

    Training ends after the epoch the pruner rejects (``trainer.stop_training``), so a
    run directory is finished normally; call :meth:`raise_if_pruned` afterwards inside an
    Optuna objective to mark the trial pruned.

    Args:
        trial: an ``optuna.trial.Trial``.
        monitor: the history column to report, e.g. ``"val_accuracy"``.

    Attributes:
        pruned_at: the epoch (1-based) after which the trial was pruned, or 0.

    Example:
        >>> def objective(trial):  # doctest: +SKIP
        ...     pruning = PruningCallback(trial, "val_accuracy")
        ...     history = ln.fit(model, x, y, validation_split=0.1, callbacks=[pruning])
        ...     pruning.raise_if_pruned()
        ...     return history["val_accuracy"][-1]
    """

    def __init__(self, trial: optuna.trial.Trial, monitor: str = "val_accuracy") -> None:
        self.trial, self.monitor, self.pruned_at = trial, monitor, 0

    def on_train_begin(self, trainer: Trainer) -> None:
        self.pruned_at = 0

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise InvalidArgument("monitor", self.monitor, "a history column: " + ", ".join(logs),
                                  "add validation data or monitor 'loss'")
        with warnings.catch_warnings():  # a resumed trial reports its earlier epochs again
            warnings.simplefilter("ignore")
            self.trial.report(float(logs[self.monitor]), epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.stop_training = True

    @property
    def pruned(self) -> bool:
        """Whether the pruner stopped the training."""
        return self.pruned_at > 0

    def raise_if_pruned(self) -> None:
        """Raise ``optuna.TrialPruned`` when the pruner stopped the training."""
        if self.pruned:
            import optuna

            raise optuna.TrialPruned(f"pruned after epoch {self.pruned_at}")


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs to run one trial (plain values: it travels to the worker).

    Attributes:
        number: the Optuna trial number; the run directory is ``trials/<number>``.
        trial_id: the Optuna trial id in ``storage``.
        config: the trial's resolved run config as YAML.
        directory: the trial's run directory (absolute).
        storage: the Optuna storage (a journal file path or a database URL).
        study: the study name.
        metric: the history column reported for pruning and taken as the trial's value.
        pruner: the pruner settings; ``epochs`` is hyperband's largest budget.
        threads: BLAS threads to train with.
        allow_plugins: import the config's plugin modules (they must be importable here).
        plugin_search: folders where plugin modules are looked for.
    """

    number: int
    trial_id: int
    config: str
    directory: str
    storage: str
    study: str
    metric: str
    pruner: PrunerSettings
    epochs: int
    threads: int = 1
    allow_plugins: bool = False
    plugin_search: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended.

    Attributes:
        number: the trial number.
        state: ``COMPLETE``, ``PRUNED`` or ``FAIL``.
        value: the metric after the last epoch (None when no epoch ended).
        reason: why it failed (one line), or ''.
        seconds: wall time of the trial on its worker.
        epochs: epochs trained.
        test_accuracy: accuracy on the data's test split (None without one).
        worker: the Dask worker that trained it.
        directory: its run directory.
    """

    number: int
    state: str
    value: float | None = None
    reason: str = ""
    seconds: float = 0.0
    epochs: int = 0
    test_accuracy: float | None = None
    worker: str = ""
    directory: str = ""


def run_trial(task: TrialTask) -> TrialOutcome:
    """Train ``task``'s config into its run directory (once) and return how it ended.

    Never raises for a problem of the trial itself: a bad config, a diverged loss or any
    other error is a ``FAIL`` outcome whose ``reason`` is one line.
    """
    directory = Path(task.directory)
    started = time.perf_counter()
    try:
        return read_outcome(directory) or _train(task, directory, started)
    except LayernetError as error:
        outcome = _failed(task, one_line(error), started)
    except Exception as error:  # noqa: BLE001 - the sweep goes on; the reason is recorded
        outcome = _failed(task, f"{type(error).__name__}: {one_line(error)}", started)
    if (directory / CONFIG_FILE).exists():  # a run that failed after its first epoch
        write_outcome(outcome)
    return outcome


def _train(task: TrialTask, directory: Path, started: float) -> TrialOutcome:
    """Train (or continue) the trial, holding its directory's lock."""
    import optuna

    config = load_run_config(task.config, allow_plugins=task.allow_plugins,
                             plugin_search=[Path(folder) for folder in task.plugin_search])
    with quiet_optuna():
        study = open_study(task.study, task.storage, pruner=build_pruner(task.pruner, task.epochs))
    pruning = PruningCallback(optuna.trial.Trial(study, task.trial_id), task.metric)
    worker = worker_address()
    with run_lock(directory):
        done = read_outcome(directory) or _finished_run(task, directory, started)
        if done is not None:
            return done
        resume = (directory / CONFIG_FILE).exists()
        with blas_threads(task.threads):
            result = train_run(config, directory, resume=resume, callbacks=[pruning], claimed=not resume,
                               environment={"sweep_trial": task.number, "worker": worker,
                                            "threads": task.threads, "blas": blas_info()})
    history = result.trainer.history
    outcome = TrialOutcome(task.number, PRUNED if pruning.pruned else COMPLETE, _last(history, task.metric),
                           seconds=round(time.perf_counter() - started, 3), epochs=result.trainer.epoch,
                           test_accuracy=None if result.test is None else result.test.accuracy,
                           worker=worker, directory=task.directory)
    write_outcome(outcome)
    return outcome


def _finished_run(task: TrialTask, directory: Path, started: float) -> TrialOutcome | None:
    """The outcome of a run that finished but was killed before writing ``trial.json`` (read
    from its files; counted as complete), else None."""
    try:
        metrics = json.loads((directory / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(metrics, dict) or metrics.get("status") != "finished":
        return None
    history = History.from_csv(directory / HISTORY_FILE)
    outcome = TrialOutcome(task.number, COMPLETE, _last(history, task.metric),
                           seconds=round(time.perf_counter() - started, 3), epochs=len(history),
                           test_accuracy=metrics.get("test_accuracy"), worker=worker_address(),
                           directory=task.directory)
    write_outcome(outcome)
    return outcome


def _last(history: History, metric: str) -> float | None:
    values = history[metric] if len(history) and metric in history.columns else []
    return float(values[-1]) if values else None


def _failed(task: TrialTask, reason: str, started: float) -> TrialOutcome:
    return TrialOutcome(task.number, FAIL, reason=reason, seconds=round(time.perf_counter() - started, 3),
                        worker=worker_address(), directory=task.directory)


def read_outcome(directory: Path) -> TrialOutcome | None:
    """The outcome recorded in ``directory/trial.json``, or None when there is none (yet)."""
    try:
        recorded = json.loads((directory / OUTCOME_FILE).read_text(encoding="utf-8"))
        return TrialOutcome(**recorded)
    except (OSError, ValueError, TypeError):
        return None


def write_outcome(outcome: TrialOutcome) -> None:
    """Record ``outcome`` in its run directory (atomically)."""
    write_text(Path(outcome.directory) / OUTCOME_FILE, json.dumps(asdict(outcome), indent=2) + "\n")


def worker_address() -> str:
    """The address of the Dask worker running this code, or ``local`` outside a worker."""
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:
        return "local"
