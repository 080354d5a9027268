"""Sweeps on a real Dask cluster on this machine: ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 (the commands of docs/sweeps.md); trials run on both workers, and a
worker killed mid-trial leaves every trial directory written once, its trial continued elsewhere."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_sweep_support import (
    NEEDS_SWEEP_EXTRA,
    Cluster,
    history_epochs,
    running_cluster,
    spec_text,
)

import layernet as ln

pytestmark = [pytest.mark.slow, NEEDS_SWEEP_EXTRA, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler and two single-threaded workers on 127.0.0.1, shared by this file's tests."""
    with running_cluster(tmp_path_factory.mktemp("dask")) as started:
        yield started


def _workers(address: str) -> dict[str, str]:
    """Worker name -> address."""
    from distributed import Client

    with Client(address, timeout="30s") as client:
        return {str(info["name"]): address for address, info in client.scheduler_info()["workers"].items()}


def test_trials_run_on_both_workers_of_a_cluster(cluster: Cluster, tmp_path: Path) -> None:
    trials, best = ln.sweep(spec_text(trials=4), out=tmp_path / "sw", scheduler=cluster.address)
    assert list(trials["state"]) == ["COMPLETE"] * 4 and best is not None
    assert set(trials["worker"]) == set(_workers(cluster.address).values())
    for run in trials["run_dir"]:
        assert json.loads((Path(run) / "metrics.json").read_text())["worker"] in set(trials["worker"])


def _kill_when_training(cluster: Cluster, sweep: Path, name: str, address: str,
                        killed: list[tuple[int, list[str]]]) -> None:
    """Kill worker ``name`` once one of its trials has finished an epoch (but not the trial);
    record the trial and its history rows at that moment."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for metrics in sweep.glob("trials/*/metrics.json"):
            try:
                recorded = json.loads(metrics.read_text())
            except ValueError:
                continue
            if recorded.get("worker") == address and recorded.get("status") == "running":
                cluster.kill(name)
                history = (metrics.parent / "history.csv").read_text().splitlines()
                killed.append((int(metrics.parent.name), history))
                return
        time.sleep(0.02)


def test_a_killed_worker_leaves_each_trial_directory_written_once(cluster: Cluster, tmp_path: Path) -> None:
    workers = _workers(cluster.address)
    assert len(workers) == 2, "the cluster lost a worker before this test"
    victim = sorted(workers)[0]
    sweep = tmp_path / "sw"
    wide = "  optimizer.lr: {loguniform: [1.0e-3, 3.0e-2]}\n  model.layers[0].units: {choice: [256, 384]}\n"
    killed: list[tuple[int, list[str]]] = []
    killer = threading.Thread(target=_kill_when_training,
                              args=(cluster, sweep, victim, workers[victim], killed))
    killer.start()
    trials, _ = ln.sweep(spec_text(trials=4, epochs=4, limit=6000, space=wide), out=sweep,
                         scheduler=cluster.address)
    killer.join()
    assert len(killed) == 1, "the worker was never caught training"
    assert list(trials["state"]) == ["COMPLETE"] * 4
    assert sorted(path.name for path in (sweep / "trials").iterdir()) == ["0", "1", "2", "3"]
    for run in trials["run_dir"]:
        assert history_epochs(Path(run)) == [1, 2, 3, 4]  # every epoch once: continued, not restarted
        assert len(list(Path(run).glob("model.npz"))) == 1
    number, rows_then = killed[0]
    survivor = workers[sorted(workers)[1]]
    assert trials.loc[trials["trial"] == number, "worker"].item() == survivor
    rows_now = (sweep / "trials" / str(number) / "history.csv").read_text().splitlines()
    assert len(rows_then) >= 2 and rows_now[:len(rows_then)] == rows_then  # its first epochs kept as they were
