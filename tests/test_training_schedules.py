"""Schedules follow the run: an open-length CosineDecay spans the run's epochs (after
overrides and on resume); a schedule shorter than the run is reported."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

import layernet as ln

from conftest import RunCli

BASE = "model: {input_shape: [784], layers: [{type: Dense, units: 10}, Softmax]}\n"


def trainer_for(schedule: ln.Schedule, epochs: int) -> ln.Trainer:
    model = ln.Sequential([ln.Dense(2), ln.Softmax()], input_shape=(3,))
    return ln.Trainer(model, ln.CrossEntropy(), ln.SGD(model.parameters(), lr=0.1), schedule=schedule,
                      settings=ln.TrainSettings(epochs=epochs))


def test_cosine_without_epochs_spans_the_run() -> None:
    schedule = ln.CosineDecay(warmup_epochs=2)
    trainer = trainer_for(schedule, 12)
    assert schedule.span == 10 and trainer.schedule_note is None
    x, y = np.random.default_rng(0).normal(size=(20, 3)), np.arange(20) % 2
    history = trainer.fit(x, y)
    assert history["lr"][-1] == pytest.approx(0.1 * (1 + math.cos(math.pi * 9 / 10)) / 2)


def test_an_unfitted_open_cosine_says_what_to_do() -> None:
    with pytest.raises(ln.InvalidArgument, match="epochs"):
        ln.CosineDecay()(3, 0.1)


def test_a_schedule_shorter_than_the_run_is_reported_at_the_start() -> None:
    stream = io.StringIO()
    trainer = trainer_for(ln.CosineDecay(epochs=3), 10)
    trainer.callbacks.append(ln.Progress(10, stream=stream, interactive=False))
    trainer.fit(np.zeros((4, 3)), np.zeros(4, np.int64), epochs=1)
    assert "warning: the CosineDecay schedule ends after 3 epochs but the run trains 10" in stream.getvalue()


def test_validate_reports_a_short_schedule(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(BASE + "schedule: {type: CosineDecay, epochs: 5}\ntrain: {epochs: 20}\n")
    result = run_cli("validate", config)
    assert result.returncode == 0 and "warning: the CosineDecay schedule ends after 5 epochs" in result.stdout
    config.write_text(BASE + "schedule: CosineDecay\ntrain: {epochs: 20}\n")
    assert "warning" not in run_cli("validate", config).stdout


def test_the_cli_epochs_override_and_resume_stretch_an_open_schedule(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(BASE + "schedule: CosineDecay\ntrain: {epochs: 50}\ndata: {source: sample, limit: 100}\n")
    run = tmp_path / "run"
    assert run_cli("train", config, "--epochs", "2", "--out", run, "--no-plots", "--quiet").returncode == 0
    lrs = ln.History.from_csv(run / "history.csv")["lr"]
    assert lrs == pytest.approx([0.001, 0.0005])  # cosine over 2 epochs, not 50
    assert run_cli("train", "--resume", run, "--epochs", "4", "--no-plots", "--quiet").returncode == 0
    lrs = ln.History.from_csv(run / "history.csv")["lr"]
    assert lrs[2:] == pytest.approx([0.001 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (2, 3)])
