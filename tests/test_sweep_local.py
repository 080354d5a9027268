"""Sweeps on the default local Dask cluster: the command end to end, ``ln.sweep``, a failing
trial recorded while the sweep goes on, and ``--resume`` after Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import interruptible
from test_sweep_support import NEEDS_SWEEP_EXTRA, REPO_ROOT, history_epochs, spec_text

import layernet as ln

pytestmark = [pytest.mark.slow, NEEDS_SWEEP_EXTRA, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_the_command_runs_a_sweep_of_normal_run_directories(run_cli, tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(spec_text(trials=3))
    result = run_cli("sweep", "spec.yaml", "--out", "sw", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "local cluster: 2 worker processes" in result.stdout
    assert result.stdout.count("ended:") == 3 and "3/3 ended" in result.stdout
    sweep = tmp_path / "sw"
    trials = pd.read_csv(sweep / "trials.csv")
    assert list(trials["trial"]) == [0, 1, 2] and set(trials["state"]) == {"COMPLETE"}
    assert {"optimizer.lr", "model.layers[0].units", "val_accuracy", "seconds", "run_dir"} <= set(trials.columns)
    for run in trials["run_dir"]:
        assert history_epochs(tmp_path / run) == [1, 2]
        assert {"config.yaml", "model.npz", "history.csv", "metrics.json"} <= {p.name for p in (tmp_path / run).iterdir()}
    best = trials.loc[trials["val_accuracy"].idxmax()]
    assert f"best val_accuracy: {best['val_accuracy']:.4f}" in result.stdout
    assert {"best.yaml", "trials.png", "params.png", "parallel.png", "journal.log"} <= {p.name for p in sweep.iterdir()}
    assert ln.load_run_config(sweep / "best.yaml").optimizer["lr"] == pytest.approx(best["optimizer.lr"])
    assert run_cli("evaluate", tmp_path / trials["run_dir"][0]).returncode == 0
    assert run_cli("plot", tmp_path / trials["run_dir"][1]).returncode == 0


def test_ln_sweep_records_a_failing_trial_and_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    space = "  optimizer.lr: {choice: [0.01, 1.0e+30]}\n  model.layers[0].units: {choice: [8, 16]}\n"
    spec = spec_text(trials=4, space=space, search="  workers: 2\n").replace("{type: tpe, seed: 0}", "grid")
    lines: list[str] = []
    trials, best = ln.sweep(spec, out="sw", report=lines.append)
    assert len(trials) == 4 and trials.attrs["directory"] == "sw"
    failed, complete = trials[trials["state"] == "FAIL"], trials[trials["state"] == "COMPLETE"]
    assert list(failed["optimizer.lr"]) == [1e30, 1e30] and list(complete["optimizer.lr"]) == [0.01, 0.01]
    assert all(reason.startswith("loss became nan at epoch 1") and "\n" not in reason for reason in failed["reason"])
    assert not any(Path(run).exists() for run in failed["run_dir"])  # failed in its first epoch: nothing left
    assert isinstance(best, ln.RunConfig) and best.optimizer["lr"] == 0.01
    assert best.model["layers"][0]["units"] == complete.loc[complete["val_accuracy"].idxmax(), "model.layers[0].units"]
    assert sum(": fail" in line for line in lines) == 2 and "4/4 ended: 2 complete, 0 pruned, 2 failed" in lines[-1]


def _trial_files(sweep: Path) -> dict[str, int]:
    return {str(path.relative_to(sweep)): path.stat().st_mtime_ns
            for path in sweep.glob("trials/*/*") if path.is_file()}


@pytest.mark.parametrize("stop", ["ctrl-c", "crash"])
def test_resume_keeps_finished_trials_and_reruns_interrupted_ones(run_cli, tmp_path: Path, stop: str) -> None:
    """Ctrl-C lets the running trial finish while the cluster closes; a crash (the driver and its
    workers killed) leaves it RUNNING, half-trained: --resume fails it and tries its parameters again."""
    wide = "  optimizer.lr: {loguniform: [1.0e-3, 3.0e-2]}\n  model.layers[0].units: {choice: [256, 384]}\n"
    (tmp_path / "spec.yaml").write_text(spec_text(trials=2, epochs=3, limit=6000, space=wide))  # ~0.7 s an epoch
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    driver = subprocess.Popen([sys.executable, "-m", "layernet", "sweep", "spec.yaml", "--out", "sw", "--workers", "1"],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True, preexec_fn=interruptible)
    sweep = tmp_path / "sw"
    deadline = time.monotonic() + 120
    while not ((sweep / "trials/0/trial.json").exists() and (sweep / "trials/1/history.csv").exists()):
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.05)
    if stop == "ctrl-c":
        driver.send_signal(signal.SIGINT)
    else:
        os.killpg(driver.pid, signal.SIGKILL)
    err = driver.communicate(timeout=60)[1].decode()
    if stop == "ctrl-c":
        assert driver.returncode == 130 and "layernet sweep --resume sw" in err, err
    finished = {path.parent.name for path in sweep.glob("trials/*/trial.json")}
    kept = {name: mtime for name, mtime in _trial_files(sweep).items() if name.split("/")[1] in finished}
    assert "0" in finished and ("1" in finished) == (stop == "ctrl-c")

    result = run_cli("sweep", "--resume", "sw", "--workers", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {name: mtime for name, mtime in _trial_files(sweep).items() if name in kept} == kept
    trials = pd.read_csv(sweep / "trials.csv")
    complete = trials[trials["state"] == "COMPLETE"]
    assert len(complete) == 2
    for run in complete["run_dir"]:
        assert history_epochs(tmp_path / run) == [1, 2, 3]
    interrupted = trials[trials["reason"].fillna("").str.startswith("interrupted")]
    assert list(interrupted["trial"]) == ([] if stop == "ctrl-c" else [1])
    assert set(interrupted["state"]) <= {"FAIL"}
    params = ["optimizer.lr", "model.layers[0].units"]
    assert set(map(tuple, interrupted[params].to_numpy().tolist())) <= set(map(tuple, complete[params].to_numpy().tolist()))
