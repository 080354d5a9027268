"""The ``layernet`` subcommands: argument definitions and handlers (the only code that prints)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
import numpy as np

from .._version import __version__
from ..archive import json_file
from ..atomic import write_text
from ..config import RunConfig, model_from_yaml, validate_config
from ..config.run import config_plugins, key_location
from ..config.sections import consent_message
from ..data import Dataset, load_data, load_inputs
from ..data.download import download_mnist
from ..data.loading import check_source
from ..errors import ConfigError, DataError, LayernetError
from ..gradcheck import gradcheck
from ..losses import Loss, predicted_classes
from ..model import Sequential
from ..objective import pair
from ..training import Callback, History
from ..training.metrics import evaluate
from ..training.threads import blas_info, blas_threads, default_threads
from . import export_command
from .plots import INSTALL_HINT, matplotlib_available
from ..training.progress import Progress
from ..training.tensorboard import RUN_SUBDIRECTORY, TensorBoard, require_tensorboard
from .rundir import (standard_json, CONFIG_FILE, METRICS_FILE, SavedRun, add_consent_argument, claim_run_directory, load_config,
                     LOCK_FILE, model_outputs, open_run, plot_run, read_history,
                     recorded_plugin_folders, refuse_overwrite, require_consent, run_lock, train_run)

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one-line help, an example, its arguments and its handler."""

    name: str
    help: str
    example: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Handler


def version() -> str:
    """The installed layernet version."""
    return __version__


def say(message: str = "") -> None:
    """Print a line for people on standard output."""
    print(message, flush=True)


# -- train ----------------------------------------------------------------------------
def _train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="the run's YAML config (see docs/yaml-reference.md); "
                        "optional with --resume, which uses the run's own config.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="override any config key, e.g. --set optimizer.lr=0.01 --set "
                        "model.layers[0].units=32 (VALUE is YAML; repeatable; checked like the file)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config (every default and override) and exit")
    parser.add_argument("--data", metavar="SPEC", help="data to train on: 'sample', 'mnist', an IDX "
                        "directory, a Kaggle .csv or an .npz (default: the config's data.source)")
    parser.add_argument("--epochs", type=int, metavar="N", help="total epochs (overrides train.epochs)")
    parser.add_argument("--batch-size", metavar="N", help="rows per step, or 'full' (overrides train.batch_size)")
    parser.add_argument("--lr", type=float, metavar="X", help="learning rate (overrides optimizer.lr)")
    parser.add_argument("--seed", type=int, metavar="N", help="seed (overrides model.seed)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--out", type=Path, metavar="RUN_DIR", help="run directory to create "
                       "(default: runs/<config name>-<time>)")
    group.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR "
                       "from its last checkpoint")
    parser.add_argument("--allow-changes", action="store_true", help="with --resume: allow settings "
                        "other than the run's own (e.g. a lower --lr after a divergence); the change "
                        "is recorded in metrics.json")
    parser.add_argument("--threads", type=positive_int, metavar="N", help="BLAS threads to train with "
                        "(default: 1 for small models — under 1M parameters or batches of at most 256 "
                        "rows — else every core; see docs/cli.md)")
    parser.add_argument("--tensorboard", action="store_true", help="also write each epoch's "
                        "scalars for TensorBoard to RUN_DIR/tensorboard (the same as --set "
                        "train.tensorboard=true; needs pip install 'layernet[tensorboard]')")
    parser.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    parser.add_argument("--quiet", action="store_true", help="print only the final summary")
    add_consent_argument(parser)


def train(args: argparse.Namespace) -> int:
    """``layernet train``: train a config and write a run directory."""
    if args.config is None and args.resume is None:
        raise LayernetError("train needs a config (layernet train CONFIG) or --resume RUN_DIR")
    source = args.config if args.config is not None else args.resume / CONFIG_FILE
    if args.config is None and not source.exists():
        raise LayernetError(f"{args.resume}: not a run directory ({CONFIG_FILE} is missing); "
                            "give the config too: layernet train CONFIG --resume RUN_DIR")
    if args.resume is not None and not args.resume.is_dir():
        raise LayernetError(f"{args.resume}: no such run directory; start a run with "
                            f"layernet train CONFIG --out {args.resume}")
    search = recorded_plugin_folders(args.resume) if args.resume is not None else []
    overrides = [*args.overrides, *(["train.tensorboard=true"] if args.tensorboard else [])]
    config = load_config(source, allow_plugins=args.allow_plugins, overrides=overrides,
                         search=search).with_overrides(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed, data_source=args.data)
    if args.print_config:
        sys.stdout.write(config.to_yaml())
        return 0
    if config.train.tensorboard:
        require_tensorboard("--tensorboard" if args.tensorboard else key_location(config.source, TENSORBOARD_KEY))
    if args.resume is not None:
        args.changes = _check_resumable(config, args.resume, args.allow_plugins, args.allow_changes)
    if args.out is not None:
        refuse_overwrite(args.out, [], "--out")
        _check_empty(args.out)
    args.threads_chosen = "--threads" if args.threads else "default policy"
    args.threads = args.threads or default_threads(config.build_model().num_parameters,
                                                   config.train.batch_size)
    fresh = args.out is not None and not args.out.exists()
    claimed = args.resume is None and args.out is None
    directory = claim_run_directory(config) if claimed else (args.resume or args.out)
    with run_lock(directory):
        if args.out is not None:
            _check_empty(args.out)  # again, now that it is ours
        return _train_locked(args, config, directory, claimed or fresh)


#: The config key that turns on TensorBoard scalars.
TENSORBOARD_KEY = ("train", "tensorboard")


def _check_empty(out: Path) -> None:
    if out.exists() and any(path.name != LOCK_FILE for path in out.iterdir()):
        raise LayernetError(f"{out}: already exists and is not empty; choose another --out "
                            f"or continue it with --resume {out}")


def _train_locked(args: argparse.Namespace, config: RunConfig, directory: Path, claimed: bool) -> int:
    """The rest of ``train``, holding ``directory``'s lock."""
    threads: int = args.threads
    chosen = args.threads_chosen
    header = f"training {config.source} -> {directory} ({threads} BLAS thread{'s' if threads != 1 else ''}, {chosen})"
    callbacks: list[Callback] = [] if args.quiet else [Progress(config.train.epochs, header=header)]
    if config.train.tensorboard:
        callbacks.append(TensorBoard(directory / RUN_SUBDIRECTORY))
    try:
        with _sigterm_interrupts(), blas_threads(threads):
            environment = {"blas": blas_info(), "threads": threads,
                           **({"changes": args.changes} if getattr(args, "changes", None) else {}),
                           "command": ["layernet", *sys.argv[1:]] if args.argv is None else args.argv}
            result = train_run(config, directory, resume=args.resume is not None, callbacks=callbacks,
                               claimed=claimed, environment=environment)
    except KeyboardInterrupt:
        if (directory / CONFIG_FILE).exists() and (directory / "history.csv").exists():
            print(f"layernet: training stopped; {directory}/ holds history.csv, metrics.json and "
                  f"checkpoints/last.npz; continue it with: layernet train --resume {directory}",
                  file=sys.stderr, flush=True)
        raise
    model = result.trainer.model
    history = result.trainer.history
    plots = [] if args.no_plots else _plots(result.directory, model, result.trainer.loss, history,
                                            result.test_data)
    last = result.trainer.history.rows[-1] if len(result.trainer.history) else {}
    epochs = result.trainer.epoch
    parts = [f"{epochs} epoch{'s' if epochs != 1 else ''} in {result.metrics['train_seconds']:.1f}s",
             f"{model.num_parameters:,} parameters"]
    if "accuracy" in last:
        parts.append(f"train accuracy {last['accuracy']:.4f}")
    if result.test is not None:
        parts.append(f"test accuracy {result.test.accuracy:.4f} (loss {result.test.loss:.4f})")
    say("done: " + ", ".join(parts))
    extras = [f"{RUN_SUBDIRECTORY}/"] * config.train.tensorboard + [p.name for p in plots]
    say(f"wrote {result.directory}/: config.yaml, model.npz, history.csv, metrics.json, checkpoints/"
        + "".join(", " + name for name in extras))
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interruption so a stopped run leaves its files (exit 143)."""

    exit_code = 128 + signal.SIGTERM


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While training, SIGTERM stops it as Ctrl-C does (the previous handler is restored)."""
    def stop(signum: int, frame: object) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_resumable(config: RunConfig, directory: Path, allow_plugins: bool,
                     allow_changes: bool) -> list[dict[str, Any]]:
    """Refuse to resume ``directory`` with settings other than its own (only epochs may grow,
    and TensorBoard logging be switched) unless ``allow_changes``; the run's list of changes
    (with this one) for ``metrics.json``."""
    stored_path = directory / CONFIG_FILE
    if not stored_path.exists():
        return []
    stored = load_config(stored_path, allow_plugins=allow_plugins,
                         search=recorded_plugin_folders(directory)).to_dict()
    wanted = config.with_overrides(epochs=int(stored["train"]["epochs"])).to_dict()
    wanted["train"]["tensorboard"] = stored["train"]["tensorboard"]  # logging may change too
    differ = [section for section in wanted if wanted[section] != stored[section]]
    changes = _recorded_changes(directory)
    if differ and not allow_changes:
        verb = "differs" if len(differ) == 1 else "differ"
        raise LayernetError(f"{directory}: a resumed run must keep its settings, but {', '.join(differ)} "
                            f"{verb} from the run's own; pass --allow-changes to resume with them anyway "
                            f"(recorded in metrics.json), or resume with layernet train --resume {directory}")
    if differ:
        changes.append({"sections": differ, "before": {k: stored[k] for k in differ},
                        "after": {k: wanted[k] for k in differ},
                        "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    return changes


def _recorded_changes(directory: Path) -> list[dict[str, Any]]:
    try:
        changes = json_file(directory / METRICS_FILE).get("changes", [])
    except (OSError, ValueError, AttributeError):
        return []
    return list(changes) if isinstance(changes, list) else []


def _plots(directory: Path, model: Sequential, loss: Loss, history: History,
           test: Dataset | None) -> list[Path]:
    if not matplotlib_available():
        say(f"plots skipped: matplotlib is not installed ({INSTALL_HINT})")
        return []
    return plot_run(directory, model, loss, history, test)


# -- evaluate -------------------------------------------------------------------------
def _model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="RUN_DIR_OR_MODEL",
                        help="a run directory (from layernet train) or a model .npz file")
    add_consent_argument(parser)


def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    _model_argument(parser)
    parser.add_argument("--data", metavar="SPEC", help="labelled data to evaluate on: 'sample', "
                        "'mnist', an IDX directory (its t10k files), a Kaggle .csv with 'label', an .npz "
                        "(default: the run's test data, or the embedded sample's test digits)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def evaluate_command(args: argparse.Namespace) -> int:
    """``layernet evaluate``: loss, accuracy, top-k accuracy, per-class precision/recall/F1
    and the confusion matrix on labelled data (``--json``: all of them, plus the
    misclassified row indices)."""
    run = open_run(args.model, allow_plugins=args.allow_plugins)
    data = _inputs(run, args.data) if args.data else _default_test_data(run)
    if data.y is None:
        raise DataError(f"{data.name}: has no labels to evaluate against (a Kaggle CSV needs a "
                        "'label' column); use 'layernet predict' for unlabelled data")
    result = evaluate(run.model, run.loss, data)
    if args.json:
        say(standard_json({"data": data.name, **result.to_dict()}))
        return 0
    say(f"{data.name}: {result.samples} samples, loss {result.loss:.4f}, accuracy {result.accuracy:.4f}")
    if result.top_k:
        say("top-k accuracy: " + "  ".join(f"top-{k} {v:.4f}" for k, v in result.top_k.items()))
    say("per class:")
    say(result.report())
    if result.classes <= TABLE_CLASSES:
        say("confusion matrix (rows: true label, columns: predicted):")
        say(confusion_table(result.confusion))
    else:
        say(f"confusion matrix: {result.classes} classes, too many to print (--json has it)")
    return 0


#: Most classes whose confusion matrix ``evaluate`` prints as a table.
TABLE_CLASSES = 30


def confusion_table(confusion: np.ndarray[Any, np.dtype[np.int64]]) -> str:
    """A confusion matrix ``(classes, classes)`` as an aligned text table with class headers."""
    width = max(len(str(int(confusion.max(initial=0)))), len(str(len(confusion) - 1)))
    header = " " * (width + 1) + " ".join(f"{k:>{width}}" for k in range(len(confusion)))
    rows = [f"{t:>{width}} " + " ".join(f"{int(v):>{width}}" for v in row) for t, row in enumerate(confusion)]
    return "\n".join([header, *rows])


def _default_test_data(run: SavedRun) -> Dataset:
    """The run's own test split (preprocessed as in training), or the sample's test digits."""
    if run.config is None:
        return _inputs(run, "sample")
    test = load_data(run.config.data, shape=run.model.input_shape).test
    if test is None:
        raise DataError(f"{run.config.data.source}: the run's data has no test split to evaluate "
                        "on; pass labelled data with --data")
    return test


def _inputs(run: SavedRun, spec: str) -> Dataset:
    """Samples from ``spec`` shaped like the model's input (a DataError when sizes differ)."""
    return load_inputs(spec, shape=run.model.input_shape, shift=run.shift, scale=run.scale)


# -- predict --------------------------------------------------------------------------
def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    _model_argument(parser)
    parser.add_argument("input", metavar="INPUT", help="images to classify: a Kaggle test.csv, an "
                        ".npz with x, an IDX images file or directory")
    parser.add_argument("--out", type=Path, default=Path("submission.csv"), metavar="FILE",
                        help="CSV to write (default: submission.csv)")
    parser.add_argument("--probabilities", action="store_true",
                        help="add one column of class probabilities per class (p0, p1, ...)")


def predict_command(args: argparse.Namespace) -> int:
    """``layernet predict``: a Kaggle submission ``ImageId,Label`` (ImageId from 1)."""
    inputs = [args.model, Path(args.input)] if args.input not in ("sample", "mnist") else [args.model]
    refuse_overwrite(args.out, inputs, "--out")
    run = open_run(args.model, allow_plugins=args.allow_plugins)
    data = _inputs(run, args.input)
    import pandas as pd  # imported where used: it is slow to import

    probs = run.loss.probabilities(model_outputs(run.model, data))
    frame = pd.DataFrame({"ImageId": np.arange(1, len(data) + 1),
                          "Label": predicted_classes(probs)})
    if args.probabilities:
        for k in range(probs.shape[1]):
            frame[f"p{k}"] = probs[:, k]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, frame.to_csv(index=False, float_format="%.6g"))
    say(f"wrote {args.out}: {len(frame)} predictions from {data.name}")
    return 0


# -- summary, validate, gradcheck -------------------------------------------------------
def _config_or_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, metavar="CONFIG_OR_MODEL",
                        help="a YAML config, a model .npz file or a run directory")
    add_consent_argument(parser)


def _model_of(source: Path, allow_plugins: bool) -> Sequential:
    if source.is_dir() or source.suffix.lower() == ".npz":
        return open_run(source, allow_plugins=allow_plugins).model
    require_consent(source, allow_plugins)
    return model_from_yaml(source, allow_plugins=allow_plugins)


def summary_command(args: argparse.Namespace) -> int:
    """``layernet summary``: the table of layers, output shapes and parameter counts."""
    say(_model_of(args.source, args.allow_plugins).summary())
    return 0


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="the YAML config to check")
    add_consent_argument(parser)


def validate_command(args: argparse.Namespace) -> int:
    """``layernet validate``: check a config completely without training."""
    missing = config_plugins(args.config)
    if missing and not args.allow_plugins:
        return _validate_without_plugins(args.config, missing)
    try:
        config = validate_config(args.config, allow_plugins=args.allow_plugins)
    except ConfigError as error:
        for problem in error.problems[:-1]:
            print(f"layernet: error: {problem}", file=sys.stderr)
        raise error.problems[-1] from None
    if config.train.tensorboard:
        require_tensorboard(key_location(str(args.config), TENSORBOARD_KEY))
    check_source(config.data.source)
    if config.data.test is not None:
        check_source(config.data.test)
    model = config.build_model()
    batch = config.train.batch_size
    say(f"{args.config}: valid — {len(model)} layers, {model.num_parameters:,} parameters, "
        f"loss {pair(model, config.build_loss()).describe()}, optimizer {config.optimizer['type']} "
        f"(lr {config.optimizer.get('lr')}), {config.train.epochs} epochs, batch size {batch}, "
        f"data {config.data.source}")
    schedule = config.build_schedule()
    if schedule is not None:
        schedule.fit_to(config.train.epochs)
        note = schedule.shorter_than(config.train.epochs)
        if note:
            say(f"warning: {note}")
    return 0


def _validate_without_plugins(source: Path, missing: list[str]) -> int:
    """``validate`` of a config whose plugins may not be imported: everything else is checked,
    names the plugins may define are listed as unchecked, and the refusal is the last line."""
    say(f"{source}: plugins {', '.join(missing)} (not imported; nothing they define is checked)")
    errors: list[ConfigError] = []
    try:
        validate_config(source, allow_plugins=False)
    except ConfigError as error:
        errors = list(error.problems)
    for problem in errors:
        if problem.message.startswith("plugin module "):
            continue
        if problem.message.startswith("unknown ") and not problem.message.startswith("unknown section"):
            say(f"{problem.path}: {problem.message.removeprefix('unknown ')} is not built in; it "
                f"belongs to the plugins ({', '.join(missing)}) and is not checked")
        else:
            print(f"layernet: error: {' '.join(str(problem).split())}", file=sys.stderr)
    raise LayernetError(consent_message(missing, str(source)))


def gradcheck_command(args: argparse.Namespace) -> int:
    """``layernet gradcheck``: finite-difference check of every layer of a config's model."""
    require_consent(args.config, args.allow_plugins)
    model = model_from_yaml(args.config, allow_plugins=args.allow_plugins)
    failed = 0
    for index, layer in enumerate(model):
        report = gradcheck(layer, layer.input_shape, seed=index, max_entries=args.max_entries,
                           training=True, raise_on_failure=False)
        verdict = "ok" if report.passed else "FAILED"
        errors = ", ".join(f"{name.rsplit('.', 1)[-1]} {error:.1e}" for name, error in report.errors.items())
        say(f"[{index}] {layer!r}: {verdict} (relative errors: {errors})")
        failed += not report.passed
    say(f"{len(model) - failed}/{len(model)} layers passed (tolerance 1e-6, float64)")
    return 1 if failed else 0


def _gradcheck_arguments(parser: argparse.ArgumentParser) -> None:
    _config_argument(parser)
    parser.add_argument("--max-entries", type=positive_int, default=200, metavar="N",
                        help="check at most N random entries of each array (default 200)")


def positive_int(text: str) -> int:
    """``text`` as an integer >= 1, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


# -- data, plot -----------------------------------------------------------------------------
def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["download"], help="what to do")
    parser.add_argument("dataset", choices=["mnist"], help="which dataset")
    parser.add_argument("--dir", type=Path, help="where to put the files (default: the layernet cache, "
                        "$LAYERNET_CACHE/mnist or ~/.cache/layernet/mnist; training with --data mnist reads it)")
    parser.add_argument("--mirror", action="append", metavar="URL",
                        help="base URL to download from (repeatable; default: the public MNIST mirrors)")


def data_command(args: argparse.Namespace) -> int:
    """``layernet data download mnist``: fetch and verify the four MNIST files."""
    directory = download_mnist(args.dir, mirrors=args.mirror, report=say)
    spec = directory if args.dir is not None else "mnist"
    say(f"MNIST is in {directory} (md5 verified); train on it with --data {spec}")
    return 0


def _plot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, metavar="RUN_DIR", help="a run directory from layernet train")
    add_consent_argument(parser)


def plot_command(args: argparse.Namespace) -> int:
    """``layernet plot``: (re)draw a run directory's PNG plots."""
    if not matplotlib_available():
        raise LayernetError(f"plotting needs matplotlib: {INSTALL_HINT}")
    run = open_run(args.run, allow_plugins=args.allow_plugins)
    if run.config is None:
        raise LayernetError(f"{args.run}: not a run directory (plots need its history and config)")
    written = plot_run(args.run, run.model, run.loss, read_history(args.run),
                       load_data(run.config.data, shape=run.model.input_shape).test)
    say(f"wrote {', '.join(str(path) for path in written)}")
    return 0


COMMANDS = (
    Command("train", "train a network described in a YAML config", "layernet train "
            "configs/digits-784-10-10.yaml --epochs 50 --out runs/digits", _train_arguments, train),
    Command("evaluate", "loss, accuracy and confusion matrix of a trained model",
            "layernet evaluate runs/digits --data mnist", _evaluate_arguments, evaluate_command),
    Command("predict", "classify images and write a Kaggle submission (ImageId,Label)",
            "layernet predict runs/digits test.csv --out submission.csv", _predict_arguments,
            predict_command),
    Command("summary", "print the layers, output shapes and parameter counts",
            "layernet summary configs/mnist-mlp.yaml", _config_or_model_argument, summary_command),
    Command("validate", "check a config without training", "layernet validate configs/mnist-mlp.yaml",
            _config_argument, validate_command),
    Command("gradcheck", "check every layer's gradients by finite differences",
            "layernet gradcheck examples/custom.yaml", _gradcheck_arguments, gradcheck_command),
    Command("data", "download datasets", "layernet data download mnist --dir data/mnist",
            _data_arguments, data_command),
    Command("plot", "draw a run's learning curves, confusion matrix and weights",
            "layernet plot runs/digits", _plot_arguments, plot_command),
    Command(export_command.NAME, export_command.HELP, export_command.EXAMPLE,
            export_command.arguments, export_command.handler),
)
