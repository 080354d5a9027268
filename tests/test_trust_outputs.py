"""Trust, part 2: nothing overwrites an input or a run's files; a run directory is claimed
with an exclusive lock held for the run's life (docs/trust.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import RunCli, train_in
from trust_support import layernet, popen, write_tiny


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outputs")
    return train_in(root, write_tiny(root), "--no-plots", "--quiet")


def test_predict_never_overwrites_an_input_or_a_run_file(run: Path, tmp_path: Path, run_cli: RunCli) -> None:
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, x=np.zeros((3, 784), np.float32))
    before = {path: path.read_bytes() for path in [inputs, *run.iterdir()] if path.is_file()}
    for out in (inputs, run / "model.npz", run / "new.csv", run / "checkpoints" / "x.csv",
                run / "config.yaml"):
        result = run_cli("predict", run, inputs, "--out", out, cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert len(result.stderr.strip().splitlines()) == 1 and "choose another --out" in result.stderr
    model = run / "model.npz"
    result = run_cli("predict", model, inputs, "--out", model, cwd=tmp_path)
    assert result.returncode == 2 and "choose another --out" in result.stderr
    assert {path: path.read_bytes() for path in before} == before
    assert not (run / "new.csv").exists()
    assert run_cli("predict", run, inputs, "--out", tmp_path / "ok.csv", cwd=tmp_path).returncode == 0


def test_train_out_inside_a_run_is_refused(run: Path, tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("train", write_tiny(tmp_path), "--out", run / "inner", cwd=tmp_path)
    assert result.returncode == 2 and "inside the run directory" in result.stderr
    assert not (run / "inner").exists()


def _race(tmp_path: Path, tries: int, resume: bool) -> None:
    config = write_tiny(tmp_path, epochs=1)
    for attempt in range(tries):
        out = tmp_path / f"run{attempt}"
        if resume:
            assert layernet("train", config, "--out", out, "--no-plots", "--quiet", cwd=tmp_path).returncode == 0
            args = ["train", "--resume", out, "--epochs", "3", "--no-plots", "--quiet"]
        else:
            args = ["train", config, "--out", out, "--no-plots", "--quiet"]
        children = [popen(*args, cwd=tmp_path) for _ in range(2)]
        results = [(child.wait(timeout=300), *child.communicate()) for child in children]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 2], results
        loser = next(err for code, _, err in results if code == 2)
        assert len(loser.strip().splitlines()) == 1, loser
        pids = {str(child.pid) for child in children}
        assert ("in use by another layernet process (pid" in loser and any(pid in loser for pid in pids)) \
            or "already exists and is not empty" in loser or "already trained for 3 epochs" in loser, loser
        assert (out / "model.npz").exists()
        shutil.rmtree(out)


@pytest.mark.slow  # a real-process run; CI runs it, the quick suite does not
def test_two_trainings_into_one_directory_quick(tmp_path: Path) -> None:
    _race(tmp_path, 2, resume=False)


@pytest.mark.slow  # a real-process run; CI runs it, the quick suite does not
def test_two_resumes_of_one_run_quick(tmp_path: Path) -> None:
    _race(tmp_path, 2, resume=True)


@pytest.mark.slow
def test_two_trainings_into_one_directory(tmp_path: Path) -> None:
    _race(tmp_path, 10, resume=False)


@pytest.mark.slow
def test_two_resumes_of_one_run(tmp_path: Path) -> None:
    _race(tmp_path, 10, resume=True)


def test_the_lock_names_its_holder(run: Path, tmp_path: Path, run_cli: RunCli) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    import fcntl
    with open(copy / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        result = run_cli("train", "--resume", copy, "--epochs", "3", "--no-plots", cwd=tmp_path)
    assert result.returncode == 2
    assert f"in use by another layernet process (pid {os.getpid()})" in result.stderr
