"""Trust, part 3: no dead ends — one documented command continues or completes any run
(docs/trust.md)."""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import RunCli, train_in
from trust_support import layernet, popen, write_tiny

from layernet import TrainingDivergedError, load_run_config
from layernet.cli.rundir import train_run
from layernet.training import Callback, Trainer


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    return train_in(root, write_tiny(root, epochs=2), "--no-plots", "--quiet")


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def _history_rows(run: Path) -> int:
    return len((run / "history.csv").read_text().strip().splitlines()) - 1


def test_a_finished_but_unfinalised_run_is_finalised_without_training(
        finished: Path, tmp_path: Path, run_cli: RunCli) -> None:
    run = _copy(finished, tmp_path)
    (run / "model.npz").unlink()
    checkpoint = (run / "checkpoints" / "last.npz").read_bytes()
    result = run_cli("train", "--resume", run, "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (run / "model.npz").exists() and _history_rows(run) == 2
    assert (run / "checkpoints" / "last.npz").read_bytes() == checkpoint  # no epoch trained
    assert json.loads((run / "metrics.json").read_text())["status"] == "finished"
    assert run_cli("evaluate", run, cwd=tmp_path).returncode == 0


def test_a_run_without_a_checkpoint_restarts_in_place(
        finished: Path, tmp_path: Path, run_cli: RunCli) -> None:
    run = _copy(finished, tmp_path)
    (run / "model.npz").unlink()
    shutil.rmtree(run / "checkpoints")
    result = run_cli("train", "--resume", run, "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (run / "model.npz").exists() and _history_rows(run) == 2


def test_the_refusals_do_not_point_at_each_other(finished: Path, tmp_path: Path, run_cli: RunCli) -> None:
    run = _copy(finished, tmp_path)
    result = run_cli("train", "--resume", run, "--no-plots", cwd=tmp_path)
    assert result.returncode == 2 and "--epochs greater than 2" in result.stderr
    assert "--out" not in result.stderr
    result = run_cli("train", write_tiny(tmp_path), "--out", run, cwd=tmp_path)
    assert result.returncode == 2 and f"--resume {run}" in result.stderr


def test_changed_settings_need_allow_changes_and_are_recorded(
        finished: Path, tmp_path: Path, run_cli: RunCli) -> None:
    run = _copy(finished, tmp_path)
    result = run_cli("train", "--resume", run, "--epochs", "3", "--lr", "0.0001", "--no-plots", cwd=tmp_path)
    assert result.returncode == 2 and "--allow-changes" in result.stderr
    result = run_cli("train", "--resume", run, "--epochs", "3", "--lr", "0.0001", "--allow-changes",
                      "--no-plots", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["changes"][0]["sections"] == ["optimizer"]
    assert metrics["changes"][0]["after"]["optimizer"]["lr"] == 0.0001
    assert metrics["epochs"] == 3


class _DivergeAt(Callback):
    """Raises TrainingDivergedError at the start of one epoch, as the trainer does on a nan loss."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        if epoch == self.epoch:
            raise TrainingDivergedError(f"the training loss became nan at epoch {epoch}")


def test_a_diverged_run_keeps_its_last_good_model(tmp_path: Path, run_cli: RunCli) -> None:
    config = load_run_config(write_tiny(tmp_path, epochs=4))
    run = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="last good model .epoch 2"):
        train_run(config, run, callbacks=[_DivergeAt(3)])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["diverged_at_epoch"] == 3
    assert run_cli("evaluate", run, cwd=tmp_path).returncode == 0
    result = run_cli("train", "--resume", run, "--lr", "0.0005", "--allow-changes", "--no-plots",
                      "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "metrics.json").read_text())["status"] == "finished"


def test_a_run_diverging_before_its_first_checkpoint_leaves_nothing(tmp_path: Path) -> None:
    config = load_run_config(write_tiny(tmp_path, epochs=4))
    with pytest.raises(TrainingDivergedError):
        train_run(config, tmp_path / "run", callbacks=[_DivergeAt(1)])
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", ("evaluate", "summary", "predict"))
def test_commands_accept_a_checkpoint(finished: Path, tmp_path: Path, command: str, run_cli: RunCli) -> None:
    checkpoint = finished / "checkpoints" / "last.npz"
    if command == "predict":
        inputs = tmp_path / "x.npz"
        np.savez(inputs, x=np.zeros((2, 784), np.uint8))
        result = run_cli("predict", checkpoint, inputs, "--out", tmp_path / "p.csv", cwd=tmp_path)
    else:
        result = run_cli(command, checkpoint, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def _kill_and_resume(tmp_path: Path, kills: int, seed: int) -> None:
    config = write_tiny(tmp_path, epochs=3)
    rng = random.Random(seed)
    for attempt in range(kills):
        run = tmp_path / f"run{attempt}"
        child = popen("train", config, "--out", run, "--no-plots", "--quiet", cwd=tmp_path)
        time.sleep(rng.uniform(0.3, 4.0))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        if not run.exists():
            continue  # killed before it claimed the directory: nothing to continue
        if not (run / "config.yaml").exists():
            result = layernet("train", config, "--resume", run, "--no-plots", "--quiet", cwd=tmp_path)
        else:
            result = layernet("train", "--resume", run, "--no-plots", "--quiet", cwd=tmp_path)
        if (run / "model.npz").exists() and result.returncode == 2 and "already trained" in result.stderr:
            continue  # it had finished before the kill
        assert result.returncode == 0, (attempt, result.stderr)
        assert (run / "model.npz").exists() and _history_rows(run) == 3
        assert json.loads((run / "metrics.json").read_text())["status"] == "finished"


@pytest.mark.slow  # a real-process run; CI runs it, the quick suite does not
def test_killed_runs_always_resume_quick(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, 3, seed=1)


@pytest.mark.slow
def test_killed_runs_always_resume(tmp_path: Path) -> None:
    _kill_and_resume(tmp_path, 30, seed=2)
