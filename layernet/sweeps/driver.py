"""Running a sweep: Optuna asks for parameters, Dask trains the trials, Optuna is told.

The driver (this process) is the only one that asks the study for trials and tells it how
they ended, so the sampler sees every result in one place; workers only report each
epoch's metric (for pruning) and train. Trials run on a Dask ``LocalCluster`` (one
single-threaded worker process per core) unless a scheduler address is given. As many trials
are in flight as the cluster has worker threads.

A sweep directory holds ``sweep.yaml`` (the spec with its base config inlined),
``journal.log`` (the Optuna journal, unless ``storage`` names another), ``trials/<n>/`` (one
run directory per trial), ``trials.csv``, ``best.yaml`` and the PNG plots.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import write_text
from ..config import RunConfig, load_run_config
from ..config.document import one_line
from ..config.text import dump_yaml
from ..errors import ConfigError, LayernetError
from ..runs import claim_new_directory, run_lock, utc_stamp
from ..training.threads import available_cores
from .outputs import (TRIALS_DIR, TRIALS_FILE, best_trial, matplotlib_available, trials_frame,
                      write_best, write_plots)
from .search import (build_pruner, build_sampler, distribution, journal_path, open_study,
                     quiet_optuna, require_extras)
from .spec import SweepSpec, load_sweep_spec
from .trial import COMPLETE, FAIL, PRUNED, TrialOutcome, TrialTask, read_outcome, run_trial

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    from distributed import Client, Future

SPEC_FILE = "sweep.yaml"
STATE_FILE = "sweep.json"
#: A trial that was running when its sweep stopped is failed with this reason and run again.
INTERRUPTED = "interrupted: the sweep stopped while it ran (its parameters are tried again)"

Report = Callable[[str], None]


@dataclass
class SweepRun:
    """A sweep being run: where, on what, and the counts so far.

    Attributes:
        spec: the checked spec.
        directory: the sweep directory.
        storage: the Optuna storage (journal file path or database URL).
        study_name: the Optuna study's name.
        scheduler: a Dask scheduler address, or None for a local cluster.
        workers: local worker processes (ignored with ``scheduler``).
        allow_plugins: let trials import the base config's plugin modules.
        report: called with one line per event (None: silent).
        fresh: the directory was created for this run (removed again if no trial starts).
    """

    spec: SweepSpec
    directory: Path
    storage: str
    study_name: str
    scheduler: str | None = None
    workers: int | None = None
    allow_plugins: bool = False
    report: Report | None = None
    fresh: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {COMPLETE: 0, PRUNED: 0, FAIL: 0})

    def say(self, line: str) -> None:
        """Pass ``line`` to the report callback, if any."""
        if self.report is not None:
            self.report(line)


@dataclass
class SweepResult:
    """What a finished (or stopped) sweep produced.

    Attributes:
        directory: the sweep directory.
        trials: one row per trial (the contents of ``trials.csv``).
        best: the best trial's full run config (None when no trial completed).
        best_value: its metric.
        written: the files written at the end (trials.csv, best.yaml, plots).
    """

    directory: Path
    trials: pd.DataFrame
    best: RunConfig | None
    best_value: float | None
    written: list[Path]


def start_sweep(spec: SweepSpec, *, out: Path | None = None, storage: str | None = None,
                root: Path = Path("sweeps")) -> tuple[Path, str, str]:
    """Claim a new sweep directory (``out``, or ``sweeps/<spec name>-<UTC time>``) and record the
    spec and storage in it; returns the directory, the storage and the study name."""
    if out is not None:
        if out.exists() and any(out.iterdir()):
            raise LayernetError(f"{out}: already exists and is not empty; choose another --out or "
                                f"continue that sweep with --resume {out}")
        out.mkdir(parents=True, exist_ok=True)
        directory = out
    else:
        stem = Path(spec.source).stem if spec.source != "<string>" else "sweep"
        directory = claim_new_directory(root / f"{stem}-{utc_stamp()}")
    storage = storage or journal_path(directory)
    state = {"study": directory.resolve().name, "storage": storage}
    write_text(directory / SPEC_FILE, spec.to_yaml())
    write_text(directory / STATE_FILE, json.dumps(state, indent=2) + "\n")
    return directory, storage, state["study"]


def reopen_sweep(directory: Path, spec: SweepSpec | None,
                 *, allow_plugins: bool = False) -> tuple[SweepSpec, str, str]:
    """The spec, storage and study name of the sweep in ``directory`` (for ``--resume``); a
    ``spec`` given again must be the sweep's own."""
    try:
        state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        storage, study = str(state["storage"]), str(state["study"])
    except (OSError, ValueError, KeyError, TypeError):
        raise LayernetError(f"{directory}: not a sweep directory ({STATE_FILE} is missing or damaged); "
                            "start a sweep with layernet sweep SPEC") from None
    own = load_sweep_spec(directory / SPEC_FILE, allow_plugins=allow_plugins)
    if spec is not None and spec.to_yaml() != own.to_yaml():
        raise LayernetError(f"{directory}: the spec differs from the sweep's own ({directory / SPEC_FILE}); "
                            f"resume without a spec: layernet sweep --resume {directory}")
    return own, storage, study


def run_sweep(run: SweepRun) -> SweepResult:
    """Run (or continue) the sweep ``run`` to its number of trials and write its outputs.

    Raises:
        LayernetError: optuna or dask missing, the storage or the scheduler unreachable,
            the sweep directory in use by another process.
        KeyboardInterrupt: Ctrl-C; ``trials.csv`` is written first, and running trials
            are failed and repeated on ``--resume``.
    """
    require_extras()
    try:
        return _run_locked(run)
    except LayernetError:  # no scheduler, no storage: a new sweep that ran nothing leaves nothing
        if run.fresh and not (run.directory / TRIALS_DIR).exists():
            shutil.rmtree(run.directory, ignore_errors=True)
        raise


def _run_locked(run: SweepRun) -> SweepResult:
    with run_lock(run.directory), quiet_optuna():
        spec = run.spec
        epochs = spec.trial_config({}, allow_plugins=run.allow_plugins).train.epochs
        study = open_study(run.study_name, run.storage, direction=spec.direction,
                           sampler=build_sampler(spec), pruner=build_pruner(spec.pruner, epochs))
        _recover(run, study)
        try:
            with _client(run) as client:
                _loop(run, study, client, epochs)
        finally:
            frame = trials_frame(study, spec)
            write_text(run.directory / TRIALS_FILE, frame.to_csv(index=False))
        return _finish(run, study, frame)


def sweep(spec: str | Path | dict[str, Any] | SweepSpec, *, out: str | Path | None = None,
          resume: str | Path | None = None, scheduler: str | None = None, storage: str | None = None,
          workers: int | None = None, allow_plugins: bool = False,
          report: Report | None = None) -> tuple[pd.DataFrame, RunConfig | None]:
    """Run a hyperparameter sweep (see ``docs/sweeps.md``); what ``layernet sweep`` runs.

    Args:
        spec: a spec file, YAML text, a mapping, or a :class:`SweepSpec`.
        out: the sweep directory to create (default: ``sweeps/<spec name>-<UTC time>``).
        resume: continue the sweep in this directory instead (``spec`` may then be None).
        scheduler: a Dask scheduler address (``tcp://host:8786``); default: a local cluster.
        storage: an Optuna storage URL or journal file (default: ``journal.log`` in the sweep).
        workers: local worker processes (default: ``search.workers``, else one per core).
        allow_plugins: let trials import the base config's plugin modules (on a cluster
            they must be installed on every worker).
        report: called with one progress line per trial (default: silent).

    Returns:
        ``(trials, best)``: a pandas DataFrame with one row per trial (``trials.attrs["directory"]``
        is the sweep directory) and the best trial's full :class:`RunConfig` (None if no
        trial completed).
    """
    run = prepare(spec, out=out, resume=resume, scheduler=scheduler, storage=storage,
                  workers=workers, allow_plugins=allow_plugins, report=report)
    result = run_sweep(run)
    result.trials.attrs["directory"] = str(result.directory)
    return result.trials, result.best


def prepare(spec: str | Path | dict[str, Any] | SweepSpec | None, *, out: str | Path | None = None,
            resume: str | Path | None = None, scheduler: str | None = None, storage: str | None = None,
            workers: int | None = None, allow_plugins: bool = False,
            report: Report | None = None) -> SweepRun:
    """Check ``spec`` and claim (or reopen, with ``resume``) its sweep directory."""
    loaded = None if spec is None else as_spec(spec, allow_plugins=allow_plugins)
    if resume is not None:
        if storage is not None:
            raise LayernetError("--storage cannot change on --resume: the sweep keeps the storage it "
                                "started with (recorded in its sweep.json)")
        directory = Path(resume)
        loaded, storage, study = reopen_sweep(directory, loaded, allow_plugins=allow_plugins)
    elif loaded is None:
        raise LayernetError("a sweep needs a spec (layernet sweep SPEC) or --resume SWEEP_DIR")
    else:
        directory, storage, study = start_sweep(loaded, out=None if out is None else Path(out),
                                                storage=storage)
    return SweepRun(loaded, directory, storage, study, scheduler, workers or loaded.settings.workers,
                    allow_plugins, report, fresh=resume is None)


def as_spec(spec: str | Path | dict[str, Any] | SweepSpec, *, allow_plugins: bool) -> SweepSpec:
    """``spec`` checked: a file, YAML text or a mapping (a :class:`SweepSpec` as it is)."""
    if isinstance(spec, SweepSpec):
        return spec
    return load_sweep_spec(dump_yaml(spec) if isinstance(spec, dict) else spec, allow_plugins=allow_plugins)


@contextmanager
def _client(run: SweepRun) -> Iterator[Client]:
    """A Dask client on ``run.scheduler``, or on a new local cluster of single-threaded workers."""
    import dask
    from distributed import Client, LocalCluster

    if run.scheduler is not None:
        try:
            client = Client(run.scheduler, timeout="10s")
        except (OSError, TimeoutError) as error:
            raise LayernetError(f"{run.scheduler}: cannot reach the Dask scheduler ({one_line(error)}); "
                                "start one with: dask scheduler (see docs/sweeps.md)") from None
        with client:
            run.say(f"cluster {run.scheduler}: {len(client.scheduler_info()['workers'])} workers")
            yield client
        return
    workers = run.workers or available_cores()
    with dask.config.set(_training_worker_config()), \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                         silence_logs=40) as cluster, Client(cluster) as client:
        run.say(f"local cluster: {workers} worker process{'es' if workers != 1 else ''}, 1 thread each")
        yield client


def _training_worker_config() -> dict[str, Any]:
    """Dask settings for local workers that train: no statistical profiler (it samples every
    thread's stack every 10 ms) and no ``MALLOC_TRIM_THRESHOLD_`` (Dask sets it to hand memory
    back to the system, which makes every large numpy temporary a fresh mapping). Measured on
    one 3-epoch MNIST trial: 12.9 s in a default worker, 9.4 s with these, 8.2 s in a plain process."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return {"distributed.worker.profile.enabled": False, "distributed.nanny.pre-spawn-environ": environ}


def _capacity(client: Client) -> int:
    """Trials to keep in flight: the cluster's worker threads (at least one)."""
    workers = client.scheduler_info()["workers"].values()
    return max(1, sum(int(worker.get("nthreads", 1)) for worker in workers))


def _loop(run: SweepRun, study: optuna.Study, client: Client, epochs: int) -> None:
    """Keep the cluster busy until ``trials`` trials have ended."""
    from distributed import wait

    budget = _budget(run.spec)
    pending: dict[Future, optuna.trial.Trial] = {}
    try:
        while True:
            while sum(run.counts.values()) + len(pending) < budget and len(pending) < _capacity(client):
                launched = _launch(run, study, client, epochs)
                if launched is not None:
                    pending[launched[0]] = launched[1]
            if not pending:
                return
            done = wait(list(pending), return_when="FIRST_COMPLETED").done
            for future in done:
                _tell(run, study, pending.pop(future), _outcome_of(future))
    finally:
        for future in pending:
            future.cancel()


def _budget(spec: SweepSpec) -> int:
    """How many trials end before the sweep stops (a grid has at most its size)."""
    if spec.sampler.type != "grid":
        return spec.settings.trials
    size = 1
    for values in spec.grid().values():
        size *= len(values)
    return min(spec.settings.trials, size)


def _launch(run: SweepRun, study: optuna.Study, client: Client,
            epochs: int) -> tuple[Future, optuna.trial.Trial] | None:
    """Ask for a trial and send it to the cluster (None: its config was invalid, told FAIL)."""
    spec = run.spec
    trial = study.ask({parameter.key: distribution(parameter) for parameter in spec.space})
    directory = (run.directory / TRIALS_DIR / str(trial.number)).resolve()
    trial.set_user_attr("run_dir", str(run.directory / TRIALS_DIR / str(trial.number)))
    try:
        config = spec.trial_config(trial.params, allow_plugins=run.allow_plugins)
    except ConfigError as error:
        _tell(run, study, trial, TrialOutcome(trial.number, FAIL, reason=one_line(error)))
        return None
    task = TrialTask(trial.number, trial._trial_id, config.to_yaml(), str(directory), run.storage,
                     run.study_name, spec.settings.metric, spec.pruner, epochs, spec.settings.threads,
                     run.allow_plugins, tuple(str(folder) for folder in spec.plugin_search))
    future = client.submit(run_trial, task, key=f"layernet-trial-{run.study_name}-{trial.number}",
                           pure=False)
    return future, trial


def _outcome_of(future: Future) -> TrialOutcome:
    """The trial's outcome; a task Dask gave up on (its workers kept dying) is a failure."""
    try:
        outcome: TrialOutcome = future.result()
        return outcome
    except Exception as error:  # noqa: BLE001 - KilledWorker, a lost scheduler, ...
        return TrialOutcome(-1, FAIL, reason=f"{type(error).__name__}: {one_line(error)}")


def _tell(run: SweepRun, study: optuna.Study, trial: optuna.trial.Trial | int,
          outcome: TrialOutcome) -> None:
    """Record ``outcome`` as the trial's attributes and finish it in the study."""
    from optuna.trial import TrialState

    number = trial if isinstance(trial, int) else trial.number
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    recorded = {"value": outcome.value, "seconds": outcome.seconds, "epochs": outcome.epochs,
                "test_accuracy": outcome.test_accuracy, "worker": outcome.worker, "reason": outcome.reason}
    for key, value in recorded.items():
        study._storage.set_trial_user_attr(trial_id, key, value)
    state = TrialState[outcome.state]
    value = outcome.value if outcome.state == COMPLETE and outcome.value is not None else None
    if state == TrialState.COMPLETE and value is None:
        state = TrialState.FAIL  # no epoch reported the metric
    try:
        study.tell(number, value, state=state, skip_if_finished=True)
    except RuntimeError:  # Optuna's grid sampler stops an exhausted study, which only works in optimize()
        if run.spec.sampler.type != "grid":
            raise
    run.counts[state.name] = run.counts.get(state.name, 0) + 1
    run.say(_progress(run, study, number, outcome))


def _progress(run: SweepRun, study: optuna.Study, number: int, outcome: TrialOutcome) -> str:
    metric = run.spec.settings.metric
    what = outcome.state.lower()
    if outcome.value is not None:
        what += f" {metric} {outcome.value:.4f} after {outcome.epochs} epoch{'s' if outcome.epochs != 1 else ''}"
    if outcome.reason:
        what += f": {outcome.reason}"
    where = f" in {outcome.seconds:.1f}s on {outcome.worker}" if outcome.worker else ""
    counts = run.counts
    best = best_trial(study)
    best_text = "none yet" if best is None else f"{best.value:.4f} (trial {best.number})"
    return (f"trial {number}: {what}{where} | {sum(counts.values())}/{_budget(run.spec)} ended: "
            f"{counts[COMPLETE]} complete, {counts[PRUNED]} pruned, {counts[FAIL]} failed | best {best_text}")


def _recover(run: SweepRun, study: optuna.Study) -> None:
    """Count the trials that ended before; finish the ones a stopped sweep left running: with
    the outcome their directory recorded, else failed (interrupted) and asked again."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.RUNNING:
            recorded = read_outcome(run.directory / TRIALS_DIR / str(trial.number))
            if recorded is None:
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
                study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
                recorded = TrialOutcome(trial.number, FAIL, reason=INTERRUPTED)
                _tell(run, study, trial.number, recorded)
                run.counts[FAIL] -= 1  # an interrupted trial is tried again: it does not count
            else:
                _tell(run, study, trial.number, recorded)
        elif trial.state.is_finished() and not trial.user_attrs.get("interrupted"):
            run.counts[trial.state.name] = run.counts.get(trial.state.name, 0) + 1


def _finish(run: SweepRun, study: optuna.Study, frame: pd.DataFrame) -> SweepResult:
    """Write ``best.yaml`` and the plots; the result."""
    written = [run.directory / TRIALS_FILE]
    best_path = write_best(run.directory, study, run.spec.settings.metric)
    best = best_trial(study)
    config = None
    if best_path is not None and best is not None:
        written.append(best_path)
        config = load_run_config(best_path, allow_plugins=run.allow_plugins,
                                 plugin_search=run.spec.plugin_search)
    if matplotlib_available():
        written.extend(write_plots(run.directory, study, run.spec, frame))
    return SweepResult(run.directory, frame, config, None if best is None else best.value, written)
