"""Run directories on the command line: consent to plugins, opening a finished run or model
file for evaluation and prediction, and its plots.

Training a config into a run directory (``config.yaml``, ``model.npz``, ``history.csv``,
``metrics.json``, ``checkpoints/``) lives one floor down in :mod:`layernet.runs`, shared with
:mod:`layernet.sweeps`; its names are re-exported here for the commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RunConfig, load_run_config
from ..config.run import config_plugins
from ..config.sections import consent_message
from ..errors import LayernetError
from ..archive import NpzReader, json_file, text_entry
from ..atomic import special_file
from ..io.checkpoints import CHECKPOINT_FORMAT, load_checkpoint
from ..io.models import load_model, load_preprocessing
from ..layers import Dense
from ..losses import CrossEntropy, Loss
from ..model import Sequential
from ..data import Dataset
from ..runs import (CHECKPOINTS, CONFIG_FILE, HISTORY_FILE, LOCK_FILE, METRICS_FILE, MODEL_FILE,
                    claim_run_directory, default_run_directory, prepare_run, run_lock, standard_json,
                    train_run)
from ..training import History
from ..training.metrics import confusion_matrix
from . import plots

#: Names the commands (and existing callers) import from here; they live in :mod:`layernet.runs`.
__all__ = ["CHECKPOINTS", "CONFIG_FILE", "HISTORY_FILE", "LOCK_FILE", "METRICS_FILE", "MODEL_FILE",
           "claim_run_directory", "default_run_directory", "prepare_run", "run_lock", "standard_json",
           "train_run"]

#: The help of ``--allow-plugins``, on every command that reads configs, runs or models.
CONSENT_HELP = ("import the Python modules listed under 'plugins:' in the config or run (this RUNS "
                "THEIR CODE: pass it only for configs and runs you trust; see docs/trust.md)")


def add_consent_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--allow-plugins`` to a subcommand's parser."""
    parser.add_argument("--allow-plugins", action="store_true", help=CONSENT_HELP)


def require_consent(source: Path, allow: bool) -> None:
    """Refuse (one line) a config naming plugin modules not imported yet, unless ``allow``."""
    missing = config_plugins(source)
    if missing and not allow:
        raise LayernetError(consent_message(missing, str(source)))


def load_config(source: Path, *, allow_plugins: bool, overrides: Sequence[str] = (),
                search: Sequence[Path] = ()) -> RunConfig:
    """:func:`load_run_config` behind the consent check of :func:`require_consent`."""
    require_consent(source, allow_plugins)
    return load_run_config(source, allow_plugins=allow_plugins, overrides=overrides,
                           plugin_search=search)






def is_run_directory(path: Path) -> bool:
    """Whether ``path`` is a run directory (its config plus a model, metrics, checkpoints or lock)."""
    return (path / CONFIG_FILE).is_file() and any(
        (path / name).exists() for name in (MODEL_FILE, METRICS_FILE, CHECKPOINTS, LOCK_FILE))


def refuse_overwrite(out: Path, inputs: Sequence[Path], flag: str) -> None:
    """Refuse an output path equal to an input, inside an input folder or inside a run directory."""
    target = out.resolve()
    for source in inputs:
        resolved = source.resolve()
        if target == resolved or (source.is_dir() and resolved in target.parents):
            raise LayernetError(f"{out}: is {'inside ' if target != resolved else ''}{source}, which this "
                                f"command reads; choose another {flag}")
    for folder in target.parents:
        if is_run_directory(folder):
            raise LayernetError(f"{out}: is inside the run directory {folder}, whose files are not "
                                f"overwritten; choose another {flag} outside it")




def recorded_plugin_folders(directory: Path) -> list[Path]:
    """The plugin folders a run recorded in its ``metrics.json`` (none when unreadable).

    Raises:
        LayernetError: ``metrics.json`` is a pipe or a device (reading it could block forever).
    """
    special = special_file(directory / METRICS_FILE)
    if special is not None:
        raise LayernetError(f"{directory / METRICS_FILE}: is {special}, not a file; the run "
                            "directory is damaged (remove it)")
    try:
        recorded = json_file(directory / METRICS_FILE).get("plugin_folders")
    except (OSError, ValueError, AttributeError):
        return []
    if not isinstance(recorded, dict):
        return []
    return [Path(folder) for folder in recorded.values() if isinstance(folder, str)]






















@dataclass
class SavedRun:
    """A trained model with what is needed to feed it new inputs.

    Attributes:
        model: the trained model.
        loss: the run's loss (CrossEntropy for a bare model file).
        shift, scale: the input normalisation the model was trained with.
        config: the run's config, when loaded from a run directory.
    """

    model: Sequential
    loss: Loss
    shift: float = 0.0
    scale: float = 1 / 255
    config: RunConfig | None = None


def open_run(path: Path, *, allow_plugins: bool = False) -> SavedRun:
    """Open a run directory or a bare ``model.npz`` for evaluation or prediction.

    A run directory's ``config.yaml`` is loaded first (importing its plugins only
    with ``allow_plugins``, so custom layers resolve; found where the run recorded
    them), then its ``model.npz``. A model file never imports anything. The input preprocessing
    is the one stored in the model file (pixels ÷ 255 for files without one).
    """
    if not path.is_dir():
        if path.suffix.lower() != ".npz":
            raise LayernetError(f"{path}: expected a run directory or a model .npz file here "
                                "(data to evaluate or predict on comes after it, or with --data)")
        if _file_format(path) == CHECKPOINT_FORMAT:
            return _open_checkpoint(path, allow_plugins)
        return _with_preprocessing(SavedRun(load_model(path), CrossEntropy()), path)
    config_path, model_path = path / CONFIG_FILE, path / MODEL_FILE
    for required in (config_path, model_path):
        if not required.exists():
            raise LayernetError(f"{path}: not a finished run directory ({required.name} is missing); "
                                f"if its training was interrupted, continue it with layernet train "
                                f"{config_path} --resume {path}")
    config = load_config(config_path, allow_plugins=allow_plugins, search=recorded_plugin_folders(path))
    return _with_preprocessing(SavedRun(load_model(model_path), config.build_loss(), config=config),
                               model_path)


def _file_format(path: Path) -> str | None:
    """The ``format`` entry of a layernet ``.npz`` file (None when it has none)."""
    with NpzReader(path, keep=lambda key: key == "format") as archive:
        arrays = {key: archive.read(key) for key in archive.entries if key == "format"}
    return text_entry(arrays, "format", path) if "format" in arrays else None


def _open_checkpoint(path: Path, allow_plugins: bool) -> SavedRun:
    """A checkpoint (``RUN/checkpoints/last.npz``) opened as a model: inside a run directory its
    config (plugins only with ``allow_plugins``) and preprocessing (``metrics.json``) are used."""
    directory = path.parent.parent
    config = None
    if path.parent.name == CHECKPOINTS and (directory / CONFIG_FILE).is_file():
        config = load_config(directory / CONFIG_FILE, allow_plugins=allow_plugins,
                             search=recorded_plugin_folders(directory))
    trainer = load_checkpoint(path)
    run = SavedRun(trainer.model, trainer.loss, config=config)
    try:
        stored = json_file(directory / METRICS_FILE)["preprocessing"]
        run.shift, run.scale = float(stored["shift"]), float(stored["scale"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no run around it: pixels / 255
    return run


def _with_preprocessing(run: SavedRun, model_path: Path) -> SavedRun:
    rule = run.model.preprocessing
    if rule is not None and np.ndim(rule.shift) == 0 and np.ndim(rule.scale) == 0:
        run.shift, run.scale = float(rule.shift), float(rule.scale)
        return run
    stored = load_preprocessing(model_path)
    if stored is not None:
        run.shift, run.scale = stored["shift"], stored["scale"]
    return run


def model_outputs(model: Sequential, data: Dataset, batch_size: int = 1024) -> np.ndarray[Any, Any]:
    """The model's outputs on ``data``, normalised by the dataset (as evaluation sees it)."""
    outputs = [model.forward(x) for _, x in data.batches(batch_size, model.dtype)]
    model.clear_cache()
    return np.concatenate(outputs)


#: Most columns a ``history.csv`` may have (a run logs a handful of metrics per epoch).
MAX_HISTORY_COLUMNS = 1000


def read_history(directory: Path) -> History:
    """The ``history.csv`` of a run directory.

    Raises:
        LayernetError: the file is missing, not a regular file, or not a table of numbers.
    """
    path = directory / HISTORY_FILE
    special = special_file(path)
    try:
        if special is not None:
            raise ValueError(f"is {special}")
        with open(path, "rb") as handle:
            columns = handle.readline(2**16).count(b",") + 1
        if columns > MAX_HISTORY_COLUMNS:
            raise ValueError(f"more than {MAX_HISTORY_COLUMNS} columns")
        return History.from_csv(path)
    except FileNotFoundError:
        raise LayernetError(f"{path}: no such file; the run directory is incomplete") from None
    except (ValueError, TypeError) as error:  # pandas' parser and empty-data errors are ValueErrors
        raise LayernetError(f"{path}: not a readable history ({' '.join(str(error).split())[:200]}); "
                            f"the run directory is damaged") from None


PLOTS = ("curves.png", "confusion.png", "misclassified.png", "first_layer.png")


def plot_run(directory: Path, model: Sequential, loss: Loss, history: History,
             test: Dataset | None) -> list[Path]:
    """Write the run's PNG plots (see :mod:`layernet.plots`); needs matplotlib.

    ``curves.png`` always; ``confusion.png`` (up to :data:`plots.CONFUSION_CLASSES`
    classes) and ``misclassified.png`` when there is labelled test data; ``first_layer.png`` when the first Dense
    layer takes 784 inputs (28×28 pictures of its weights).
    """
    columns = {column: history[column] for column in history.columns}
    written = [plots.plot_history(columns, directory / PLOTS[0])]
    if test is not None and test.y is not None:
        predicted = loss.predicted_classes(model_outputs(model, test))
        classes = int(max(predicted.max(), test.y.max())) + 1
        if classes <= plots.CONFUSION_CLASSES:
            written.append(plots.plot_confusion(confusion_matrix(test.y, predicted, classes),
                                                directory / PLOTS[1]))
        written.append(plots.plot_misclassified(test.x, test.y, predicted, directory / PLOTS[2]))
    first = next((layer for layer in model if isinstance(layer, Dense)), None)
    if first is not None and first.weight.shape[0] == 784:
        written.append(plots.plot_first_layer(first.weight.value, directory / PLOTS[3]))
    return written




