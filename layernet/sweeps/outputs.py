"""What a sweep leaves behind: ``trials.csv``, ``best.yaml`` and PNG plots.

The trial table is built from the Optuna study (its states) and the outcome each worker
recorded as trial attributes; the plots need matplotlib (the ``plot`` extra) and are
skipped without it.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write, write_text
from ..runs import CONFIG_FILE
from .spec import Parameter, SweepSpec

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    from matplotlib.figure import Figure

TRIALS_FILE = "trials.csv"
#: The folder of the trials' run directories, ``trials/<n>``.
TRIALS_DIR = "trials"
BEST_FILE = "best.yaml"
PLOTS = ("trials.png", "params.png", "parallel.png")
#: The trial attributes a sweep records (from :class:`layernet.sweeps.trial.TrialOutcome`).
RECORDED = ("seconds", "epochs", "test_accuracy", "worker", "run_dir", "reason")


def trials_frame(study: optuna.Study, spec: SweepSpec) -> pd.DataFrame:
    """One row per trial: ``trial``, ``state``, the metric, ``seconds``, ``epochs``,
    ``test_accuracy``, one column per parameter, ``worker``, ``run_dir``, ``reason``."""
    import pandas as pd

    metric = spec.settings.metric
    rows = []
    for trial in study.get_trials(deepcopy=False):
        attributes = trial.user_attrs
        row: dict[str, Any] = {"trial": trial.number, "state": trial.state.name,
                               metric: attributes.get("value", trial.value)}
        row.update({key: attributes.get(key) for key in RECORDED[:3]})
        row.update({parameter.key: trial.params.get(parameter.key) for parameter in spec.space})
        row.update({key: attributes.get(key, "") for key in RECORDED[3:]})
        rows.append(row)
    columns = ["trial", "state", metric, *RECORDED[:3], *(p.key for p in spec.space), *RECORDED[3:]]
    return pd.DataFrame(rows, columns=columns)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The best complete trial, or None when no trial completed."""
    try:
        return study.best_trial
    except ValueError:
        return None


def write_best(directory: Path, study: optuna.Study, metric: str) -> Path | None:
    """``best.yaml``: the best trial's full config (from its run directory, ``trials/<n>``) with a
    comment saying where it came from."""
    best = best_trial(study)
    if best is None:
        return None
    run = directory / TRIALS_DIR / str(best.number)
    header = (f"# The best trial ({best.number}) of the sweep in {directory}: {metric} {best.value:.6g} "
              f"after {best.user_attrs.get('epochs')} epochs.\n# Its run directory is {run}; train it "
              f"again with: layernet train {directory / BEST_FILE}\n")
    write_text(directory / BEST_FILE, header + (run / CONFIG_FILE).read_text(encoding="utf-8"))
    return directory / BEST_FILE


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def write_plots(directory: Path, study: optuna.Study, spec: SweepSpec, frame: pd.DataFrame) -> list[Path]:
    """The sweep's PNGs: the metric per trial with the best so far, each parameter against the
    metric, and Optuna's parallel-coordinates view (once a trial completed)."""
    ended = frame[frame["state"].isin(["COMPLETE", "PRUNED"]) & frame[spec.settings.metric].notna()]
    if ended.empty:
        return []
    written = [_save(_per_trial(ended, spec), directory / PLOTS[0]),
               _save(_per_parameter(ended, spec), directory / PLOTS[1])]
    if (frame["state"] == "COMPLETE").sum() >= 2:
        written.append(_save(_parallel(study), directory / PLOTS[2]))
    return written


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _per_trial(ended: pd.DataFrame, spec: SweepSpec) -> Figure:
    metric = spec.settings.metric
    figure = _figure(7, 4)
    axes = figure.add_subplot()
    for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
        part = ended[ended["state"] == state]
        axes.scatter(part["trial"], part[metric], marker=marker, label=state.lower())
    complete = ended[ended["state"] == "COMPLETE"].sort_values("trial")
    best = complete[metric].cummax() if spec.direction == "maximize" else complete[metric].cummin()
    axes.step(complete["trial"], best, where="post", label="best so far")
    axes.set(xlabel="trial", ylabel=metric, title=f"{metric} per trial (pruned: at the epoch it stopped)")
    axes.legend()
    return figure


def _per_parameter(ended: pd.DataFrame, spec: SweepSpec) -> Figure:
    metric = spec.settings.metric
    columns = min(len(spec.space), 3)
    rows = math.ceil(len(spec.space) / columns)
    figure = _figure(4 * columns, 3.2 * rows)
    for index, parameter in enumerate(spec.space):
        axes = figure.add_subplot(rows, columns, index + 1)
        for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
            part = ended[ended["state"] == state]
            axes.scatter(_positions(parameter, part[parameter.key]), part[metric], marker=marker,
                         label=state.lower())
        if parameter.kind == "choice":  # the choices in the spec's order
            axes.set_xticks(range(len(parameter.choices)), [str(c) for c in parameter.choices])
        if parameter.kind == "loguniform":
            axes.set_xscale("log")
        axes.set(xlabel=parameter.key, ylabel=metric)
    figure.suptitle(f"{metric} against each parameter")
    return figure


def _positions(parameter: Parameter, values: pd.Series) -> list[Any]:
    """Where values go on a parameter's axis: a choice at its index among the choices."""
    if parameter.kind != "choice":
        return list(values)
    return [parameter.choices.index(value) for value in values]


def _parallel(study: optuna.Study) -> Figure:
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    with warnings.catch_warnings():  # "experimental", and matplotlib on an axis where all trials agree
        warnings.simplefilter("ignore")
        axes = plot_parallel_coordinate(study)
    from matplotlib.figure import Figure

    figure = axes.figure
    assert isinstance(figure, Figure)  # Optuna draws on a pyplot figure of its own
    figure.set_size_inches(11, 5)
    figure.subplots_adjust(left=0.07, right=0.86, bottom=0.3)  # room for the key paths below the axes
    return figure


def _save(figure: Figure, path: Path) -> Path:
    with atomic_write(path) as stream:
        figure.savefig(stream, format="png")
    if hasattr(figure, "number"):  # a pyplot figure (Optuna's): release it
        import matplotlib.pyplot as plt

        plt.close(figure)
    return path
