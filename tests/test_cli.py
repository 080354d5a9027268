"""End-to-end tests of the ``layernet`` command line on the embedded sample.

The commands run in-process through ``layernet.cli.main(argv)`` (the ``run_cli``
fixture of conftest.py: exit code, stdout and stderr as a process would leave
them). The few tests marked ``process`` run the real console script or
``python -m layernet`` in a child process, for what only a process shows: that
the entry points exist and start, that a user error ends the process with exit
code 2 and one line on stderr, and that plugins are found from the current
directory.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import layernet as ln
from layernet.cli import main
from layernet.cli.plots import first_layer_title
from layernet.training.threads import default_threads
from layernet.cli.rundir import claim_run_directory, default_run_directory, train_run
from layernet.config import load_run_config
from layernet.data import load_sample, write_kaggle_csv

from conftest import CliResult, RunCli, copy_run, interruptible

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "layernet"
ADAM = REPO / "configs" / "digits-784-10-10-adam.yaml"
PNGS = ("curves.png", "confusion.png", "misclassified.png", "first_layer.png")
COMMANDS = ("train", "evaluate", "predict", "summary", "validate", "gradcheck", "data", "plot")


def run_process(*args: str | Path, cwd: Path | None = None,
                module: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the console script (or ``python -m layernet``) in a child process with piped output.

    The child imports this checkout's ``layernet`` (PYTHONPATH), whichever one is installed.
    """
    if module:
        command = [sys.executable, "-m", "layernet", *map(str, args)]
    else:
        command = [str(SCRIPT) if SCRIPT.exists() else "layernet", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=300)


@pytest.fixture
def trained(trained_run: Path) -> Path:
    """The session's shared 2-epoch run of the quick-start config (read-only)."""
    return trained_run


@pytest.fixture(scope="module")
def kaggle_test_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Kaggle-format test.csv (no label column) with 50 sample test digits."""
    test = load_sample().test
    assert test is not None
    return write_kaggle_csv(tmp_path_factory.mktemp("kaggle") / "test.csv", test.x[:50])


def test_train_writes_a_complete_run_directory(trained: Path) -> None:
    model = ln.load_model(trained / "model.npz")
    assert model.input_shape == (784,) and model.output_shape == (10,)
    config = load_run_config(trained / "config.yaml")
    assert config.train.epochs == 2 and config.model == load_run_config(ADAM).model
    history = pd.read_csv(trained / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(history.columns)
    assert history["loss"].iloc[1] < history["loss"].iloc[0]
    metrics = json.loads((trained / "metrics.json").read_text())
    assert 0.8 < metrics["test_accuracy"] <= 1 and metrics["parameters"] == model.num_parameters
    assert metrics["samples"] == {"train": 9000, "validation": 1000, "test": 2000}
    assert (trained / "checkpoints" / "last.npz").stat().st_size > 0
    for png in PNGS:
        assert (trained / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_piped_train_prints_one_clean_line_per_epoch(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("train", ADAM, "--epochs", "2", "--batch-size", "256", "--out", tmp_path / "r",
                 "--no-plots")
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout + result.stderr
    epoch_lines = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    assert all("loss" in line and "val_accuracy" in line for line in epoch_lines)
    assert "test accuracy" in result.stdout


def test_resume_through_the_cli_equals_an_uninterrupted_run(run_cli: RunCli, tmp_path: Path) -> None:
    common = ["--batch-size", "128", "--no-plots", "--quiet"]
    assert run_cli("train", ADAM, "--epochs", "2", "--out", tmp_path / "full", *common).returncode == 0
    assert run_cli("train", ADAM, "--epochs", "1", "--out", tmp_path / "part", *common).returncode == 0
    resumed = run_cli("train", ADAM, "--epochs", "2", "--resume", tmp_path / "part", *common)
    assert resumed.returncode == 0, resumed.stderr
    full = ln.load_model(tmp_path / "full" / "model.npz").get_weights()
    part = ln.load_model(tmp_path / "part" / "model.npz").get_weights()
    assert all(np.array_equal(full[name], part[name]) for name in full)
    assert len(pd.read_csv(tmp_path / "part" / "history.csv")) == 2


def test_evaluate_json_matches_the_run_metrics(run_cli: RunCli, trained: Path) -> None:
    result = run_cli("evaluate", trained, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert report["samples"] == 2000
    assert report["accuracy"] == pytest.approx(metrics["test_accuracy"])
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 2000
    assert np.trace(confusion) / 2000 == pytest.approx(report["accuracy"])
    assert report["top_k"]["1"] == report["accuracy"] and set(report["top_k"]) == {"1", "2", "3", "4", "5"}
    assert len(report["per_class"]["f1"]) == 10 and sum(report["per_class"]["support"]) == 2000
    assert len(report["misclassified"]) == 2000 - np.trace(confusion)
    plain = run_cli("evaluate", trained / "model.npz")
    assert plain.returncode == 0 and "accuracy" in plain.stdout
    assert "top-5" in plain.stdout and "precision  recall      f1  support" in plain.stdout


def test_predict_writes_a_kaggle_submission(run_cli: RunCli, trained: Path, kaggle_test_csv: Path,
                                           tmp_path: Path) -> None:
    out = tmp_path / "submission.csv"
    result = run_cli("predict", trained, kaggle_test_csv, "--out", out, "--probabilities")
    assert result.returncode == 0, result.stderr
    submission = pd.read_csv(out)
    assert list(submission.columns[:2]) == ["ImageId", "Label"]
    assert list(submission["ImageId"]) == list(range(1, 51))
    assert submission["Label"].between(0, 9).all()
    probs = submission[[f"p{k}" for k in range(10)]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (probs.argmax(axis=1) == submission["Label"]).all()
    test = load_sample().test
    assert test is not None and test.y is not None
    assert (submission["Label"] == test.y[:50]).mean() > 0.7


def test_summary_of_config_model_file_and_run(run_cli: RunCli, trained: Path) -> None:
    for source in (ADAM, trained / "model.npz", trained):
        result = run_cli("summary", source)
        assert result.returncode == 0, result.stderr
        assert "Total parameters: 7,960" in result.stdout and "Dense(units=10)" in result.stdout


def test_validate_reports_the_run(run_cli: RunCli) -> None:
    result = run_cli("validate", REPO / "configs" / "mnist-mlp.yaml")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "parameters" in result.stdout


@pytest.mark.process
def test_gradcheck_checks_custom_layers_from_a_plugin() -> None:
    """A real process started in the repository root imports the plugin from its current directory."""
    result = run_process("gradcheck", REPO / "examples" / "custom.yaml", "--allow-plugins", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Swish" in result.stdout and "Scale" in result.stdout and "FAILED" not in result.stdout


def test_custom_layers_round_trip_through_the_command_line(run_cli: RunCli, tmp_path: Path) -> None:
    example = REPO / "examples" / "custom.yaml"
    result = run_cli("train", example, "--epochs", "1", "--out", tmp_path / "r", "--quiet", "--no-plots",
                     "--allow-plugins", cwd=REPO)
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "r" / "config.yaml").read_text()
    assert "examples.custom_layers" in written and "Swish" in written and "Scale" in written
    assert load_run_config(tmp_path / "r" / "config.yaml", allow_plugins=True).model == \
        load_run_config(example, allow_plugins=True).model
    summary = run_cli("summary", tmp_path / "r", "--allow-plugins", cwd=REPO)
    assert summary.returncode == 0 and "Swish(beta=1.0)" in summary.stdout


def test_plot_redraws_the_run_plots(run_cli: RunCli, trained: Path, tmp_path: Path) -> None:
    run = copy_run(trained, tmp_path)
    for png in PNGS:
        (run / png).unlink()
    result = run_cli("plot", run)
    assert result.returncode == 0, result.stderr
    assert all((run / png).stat().st_size > 1000 for png in PNGS)


@pytest.fixture
def mirror(mnist_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 serving copies of the real MNIST files."""
    served = tmp_path / "served"
    shutil.copytree(mnist_dir, served)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_data_download_from_a_local_mirror(run_cli: RunCli, mirror: str, tmp_path: Path) -> None:
    result = run_cli("data", "download", "mnist", "--dir", tmp_path / "mnist", "--mirror", mirror)
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "mnist").glob("*-ubyte.gz"))) == 4


@pytest.mark.process
@pytest.mark.parametrize("module", [True, False], ids=["python -m layernet", "console script"])
def test_entry_points_start_and_print_help(module: bool) -> None:
    result = run_process("--help", module=module)
    assert result.returncode == 0 and "train" in result.stdout, result.stderr
    assert all(command in result.stdout for command in COMMANDS)


def test_help_with_examples(run_cli: RunCli) -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and "train" in top.stdout
    for command in COMMANDS:
        result = run_cli(command, "--help")
        assert result.returncode == 0 and "example:" in result.stdout, command


def _bad_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


USER_ERRORS: dict[str, Callable[[Path], list[str | Path]]] = {
    "missing config file": lambda tmp: ["train", tmp / "nope.yaml", "--out", tmp / "run"],
    "layer typo": lambda tmp: ["train", _bad_config(tmp, ADAM.read_text().replace(
        "type: Dense, units: 10, init: he", "type: Dense2, units: 10, init: he")), "--out", tmp / "run"],
    "yaml syntax": lambda tmp: ["train", _bad_config(tmp, "model: [unclosed\n"), "--out", tmp / "run"],
    "python tag": lambda tmp: ["validate", _bad_config(
        tmp, 'model: !!python/object/apply:os.system ["touch PWNED"]\n')],
    "zero epochs": lambda tmp: ["train", ADAM, "--epochs", "0", "--out", tmp / "run"],
    "bad batch size": lambda tmp: ["train", ADAM, "--batch-size", "ten", "--out", tmp / "run"],
    "negative lr": lambda tmp: ["train", ADAM, "--lr", "-1", "--out", tmp / "run"],
    "epochs not a number": lambda tmp: ["train", ADAM, "--epochs", "many", "--out", tmp / "run"],
    "missing data file": lambda tmp: ["train", ADAM, "--data", tmp / "missing.csv", "--out", tmp / "run"],
    "missing model": lambda tmp: ["evaluate", tmp / "missing.npz"],
    "corrupt model": lambda tmp: ["evaluate", _write(tmp / "model.npz", b"PK\x03\x04 not a zip")],
    "bad predict csv": lambda tmp: ["predict", _write(tmp / "m.npz", b"junk"), tmp / "x.csv"],
    "unknown command": lambda tmp: ["fly"],
    "missing argument": lambda tmp: ["predict"],
    "not a run directory": lambda tmp: ["plot", tmp],
    "data file given as the model": lambda tmp: ["evaluate", _write(tmp / "test.csv", b"pixel0\n1\n")],
    "validate a missing data source": lambda tmp: ["validate", _bad_config(
        tmp, ADAM.read_text().replace("source: sample", "source: nowhere.csv"))],
    "resume a missing run": lambda tmp: ["train", ADAM, "--resume", tmp / "absent"],
    "infinite initialiser bound": lambda tmp: ["train", _bad_config(tmp, ADAM.read_text().replace(
        "init: he_uniform", "init: {uniform: {low: -.inf, high: 0}}")), "--out", tmp / "run"],
    "layer too large for memory": lambda tmp: ["train", _bad_config(tmp, ADAM.read_text().replace(
        "units: 10, init: he", "units: 100000000000, init: he")), "--out", tmp / "run"],
    "training data too small for the split": lambda tmp: [
        "train", ADAM, "--data", write_kaggle_csv(tmp / "one.csv", np.zeros((1, 28, 28), np.uint8), [3]),
        "--out", tmp / "run"],
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _assert_one_line_user_error(case: str, result: CliResult | subprocess.CompletedProcess[str],
                                tmp_path: Path) -> None:
    assert result.returncode == 2, (case, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], lines
    assert not (tmp_path / "run").exists() and not (tmp_path / "PWNED").exists()
    assert not (tmp_path / "submission.csv").exists()


@pytest.mark.parametrize("case", sorted(USER_ERRORS))
def test_user_errors_are_one_line_with_exit_code_2(run_cli: RunCli, case: str, tmp_path: Path) -> None:
    _assert_one_line_user_error(case, run_cli(*USER_ERRORS[case](tmp_path), cwd=tmp_path), tmp_path)


@pytest.mark.process
@pytest.mark.parametrize("case", ["layer typo", "epochs not a number"])
def test_user_errors_end_the_process_with_one_line_and_exit_code_2(case: str, tmp_path: Path) -> None:
    """The same, in a real process: a handler's error and an argparse error, no traceback."""
    _assert_one_line_user_error(case, run_process(*USER_ERRORS[case](tmp_path), cwd=tmp_path), tmp_path)


def test_validate_lists_every_problem_on_its_own_line(run_cli: RunCli, tmp_path: Path) -> None:
    text = ADAM.read_text().replace("units: 10, init: he", "units: 0, init: he").replace("lr: 0.001", "lr: -1")
    result = run_cli("validate", _bad_config(tmp_path, text))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 2, result.stderr
    assert "units" in lines[0] and "lr" in lines[1] and "Traceback" not in result.stderr


def test_resuming_a_finished_run_is_refused_and_changes_nothing(run_cli: RunCli, trained: Path,
                                                                tmp_path: Path) -> None:
    run = copy_run(trained, tmp_path)
    before = (run / "config.yaml").read_text()
    result = run_cli("train", run / "config.yaml", "--resume", run)
    assert result.returncode == 2 and "--epochs greater than 2" in result.stderr
    assert (run / "config.yaml").read_text() == before


def test_resuming_with_other_settings_is_refused(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli("train", ADAM, "--epochs", "1", "--out", tmp_path / "r", "--quiet", "--no-plots").returncode == 0
    result = run_cli("train", ADAM, "--epochs", "2", "--lr", "0.5", "--resume", tmp_path / "r")
    assert result.returncode == 2 and "optimizer" in result.stderr and "--allow-changes" in result.stderr
    assert load_run_config(tmp_path / "r" / "config.yaml").optimizer["lr"] == 0.001


def test_a_bare_model_file_carries_its_input_preprocessing(run_cli: RunCli, tmp_path: Path) -> None:
    config = _bad_config(tmp_path, ADAM.read_text().replace("source: sample", "source: sample\n  normalize: standardize"))
    assert run_cli("train", config, "--epochs", "1", "--out", tmp_path / "r", "--quiet", "--no-plots").returncode == 0
    from_run = json.loads(run_cli("evaluate", tmp_path / "r", "--json").stdout)
    from_file = json.loads(run_cli("evaluate", tmp_path / "r" / "model.npz", "--json").stdout)
    assert from_file["accuracy"] == pytest.approx(from_run["accuracy"]) and from_run["accuracy"] > 0.7


def test_evaluate_refuses_a_run_without_test_data(run_cli: RunCli, tmp_path: Path) -> None:
    train = load_sample().train
    assert train.y is not None
    csv = write_kaggle_csv(tmp_path / "train.csv", train.x[:300], train.y[:300])
    trained = run_cli("train", ADAM, "--data", csv, "--epochs", "1", "--out", tmp_path / "run", "--no-plots")
    assert trained.returncode == 0, trained.stderr
    result = run_cli("evaluate", tmp_path / "run")
    assert result.returncode == 2 and "--data" in result.stderr
    assert run_cli("evaluate", tmp_path / "run", "--data", csv).returncode == 0


def test_existing_output_directory_is_refused(run_cli: RunCli, trained: Path, tmp_path: Path) -> None:
    run = copy_run(trained, tmp_path)
    result = run_cli("train", ADAM, "--out", run)
    assert result.returncode == 2 and "--resume" in result.stderr


def test_run_directories_claimed_in_the_same_second_differ(tmp_path: Path) -> None:
    config = load_run_config(ADAM)
    base = default_run_directory(config, tmp_path)
    base.mkdir(parents=True)  # as if another training started this second
    claimed = [claim_run_directory(config, tmp_path) for _ in range(3)]
    assert len({*claimed, base}) == 4 and all(path.is_dir() for path in claimed)


@pytest.mark.slow
@pytest.mark.process
def test_parallel_trainings_get_their_own_run_directories(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text("model: {input_shape: [784], layers: [{type: Dense, units: 10}, Softmax]}\n"
                      "train: {epochs: 1}\ndata: {source: sample, limit: 100}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    children = [subprocess.Popen([sys.executable, "-m", "layernet", "train", str(config), "--no-plots",
                                  "--quiet"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 4 and all((run / "model.npz").exists() for run in runs)


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


@pytest.mark.process
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130),
                                          pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)])
def test_a_stopped_run_leaves_live_files_a_checkpoint_and_a_resume_hint(
        tmp_path: Path, signum: int, code: int) -> None:
    config = tmp_path / "long.yaml"
    config.write_text("model: {input_shape: [784], layers: [{type: Dense, units: 10}, Softmax]}\n"
                      "train: {epochs: 1000, batch_size: 100}\ndata: {source: sample, limit: 500}\n")
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-m", "layernet", "train", str(config), "--out", str(run),
                              "--no-plots", "--quiet"], cwd=tmp_path, env=_child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        history = run / "history.csv"
        if history.exists() and len(history.read_text().splitlines()) >= 3:  # header + 2 epochs
            break
        time.sleep(0.05)
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    assert child.returncode == code, err
    assert f"layernet train --resume {run}" in err
    rows = pd.read_csv(run / "history.csv")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted" and metrics["epochs"] == len(rows) >= 2
    assert (run / "checkpoints" / "last.npz").exists()
    assert ln.load_checkpoint(run / "checkpoints" / "last.npz").epoch == len(rows)


def test_history_and_metrics_are_written_after_every_epoch(tmp_path: Path) -> None:
    seen: list[tuple[int, str]] = []

    class Watch(ln.Callback):
        def on_epoch_begin(self, trainer: ln.Trainer, epoch: int) -> None:
            if epoch > 1:
                rows = len(pd.read_csv(tmp_path / "run" / "history.csv"))
                seen.append((rows, json.loads((tmp_path / "run" / "metrics.json").read_text())["status"]))

    config = load_run_config("model: {input_shape: [784], layers: [{type: Dense, units: 10}, Softmax]}\n"
                             "train: {epochs: 3}\ndata: {source: sample, limit: 200}\n")
    result = train_run(config, tmp_path / "run", callbacks=[Watch()])
    assert seen == [(1, "running"), (2, "running")] and result.metrics["status"] == "finished"


def test_a_closed_pipe_ends_quietly(trained: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``layernet evaluate RUN | head -1``: the reader leaves, the next write fails, exit 0."""

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["evaluate", str(trained)]) == 0
    assert capsys.readouterr().err == ""


def test_first_layer_plot_title_says_how_many_units_it_shows() -> None:
    assert "the first 64 of 256 units" in first_layer_title(64, 256)
    assert "all 10 units" in first_layer_title(10, 10)


def test_plots_of_odd_or_non_finite_pictures_warn_nothing(tmp_path: Path) -> None:
    """NaN/inf pixels or weights (a diverged model), non-square rows and colour images draw
    without a numpy or matplotlib warning: the CLI's stderr stays one line per problem."""
    import warnings

    from layernet.cli import plots

    pixels = np.random.default_rng(0).random((6, 784))
    pixels[0], pixels[1, :5], pixels[2] = np.nan, np.inf, 0.0
    weights = np.random.default_rng(1).standard_normal((784, 3))
    weights[:, 0], weights[:, 1] = 0.0, np.nan
    wrong, right = np.zeros(6, int), np.ones(6, int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for images in (pixels, pixels[:, :10], np.random.default_rng(2).random((6, 3, 32, 32))):
            plots.plot_misclassified(images, wrong, right, tmp_path / "m.png")
        plots.plot_first_layer(weights, tmp_path / "f.png")
        plots.plot_history({"epoch": [1, 2], "loss": [np.nan, np.inf], "accuracy": [0.1, 0.2]},
                           tmp_path / "h.png")
    assert all((tmp_path / name).stat().st_size > 0 for name in ("m.png", "f.png", "h.png"))


def test_train_records_blas_threads_and_the_command_line(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("model: {input_shape: [784], layers: [{type: Dense, units: 10}, Softmax]}\n"
                      "train: {epochs: 1}\ndata: {source: sample, limit: 100}\n")
    result = run_cli("train", config, "--threads", "1", "--out", tmp_path / "run", "--no-plots")
    assert result.returncode == 0, result.stderr
    assert "(1 BLAS thread, --threads)" in result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["threads"] == 1 and metrics["command"][:3] == ["layernet", "train", str(config)]
    assert all({"name", "version", "threads"} <= set(blas) for blas in metrics["blas"])
    assert default_threads(7_850, 32) == 1 and default_threads(2_000_000, 1024) >= 1
