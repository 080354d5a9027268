"""Helpers shared by the sweep tests: a small spec on the embedded sample, and a real Dask
cluster (``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, as docs/sweeps.md runs them)."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Marks tests that need the ``sweep`` extra; checked without importing it (collecting the
#: quick suite must not pay for importing Dask).
NEEDS_SWEEP_EXTRA = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("optuna", "distributed")),
    reason="needs the sweep extra: pip install -e '.[sweep]'")
DASK = Path(sys.executable).parent / "dask"


def spec_text(*, trials: int = 4, epochs: int = 2, limit: int = 600, space: str = "", search: str = "") -> str:
    """A sweep over a 784-16-10 network on the embedded sample: lr and width by default."""
    space = space or ("  optimizer.lr: {loguniform: [1.0e-3, 3.0e-2]}\n"
                      "  model.layers[0].units: {choice: [8, 16]}\n")
    return (
        "base:\n"
        "  model:\n"
        "    input_shape: [784]\n"
        "    seed: 0\n"
        "    layers: [{type: Dense, units: 16}, ReLU, {type: Dense, units: 10}, Softmax]\n"
        "  optimizer: {type: Adam, lr: 0.01}\n"
        f"  train: {{epochs: {epochs}, batch_size: 64, validation_split: 0.2}}\n"
        f"  data: {{source: sample, limit: {limit}}}\n"
        f"space:\n{space}"
        "search:\n"
        f"  trials: {trials}\n"
        "  sampler: {type: tpe, seed: 0}\n"
        "  pruner: none\n"
        f"{search}")


def history_epochs(run: Path) -> list[int]:
    """The epoch column of a run directory's history.csv."""
    lines = (run / "history.csv").read_text().splitlines()
    column = lines[0].split(",").index("epoch")
    return [int(float(line.split(",")[column])) for line in lines[1:]]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A scheduler and worker processes (each its own session, so a kill takes its nanny too)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def kill(self, name: str) -> None:
        """SIGKILL worker ``name`` and its nanny."""
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait()


def _start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # the workers import this checkout's layernet
    return subprocess.Popen([str(DASK), *args], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)


@contextmanager
def running_cluster(logs: Path) -> Iterator[Cluster]:
    """``dask scheduler`` and two ``dask worker --nthreads 1`` processes named w0 and w1 (logs in ``logs``)."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    started = Cluster(address, _start("scheduler", "--host", "127.0.0.1", "--port", port,
                                      "--no-dashboard", log=logs / "scheduler.log"))
    try:
        for name in ("w0", "w1"):
            started.workers[name] = _start("worker", address, "--nthreads", "1", "--name", name,
                                           "--no-dashboard", log=logs / f"{name}.log")
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
        yield started
    finally:
        for process in [*started.workers.values(), started.scheduler]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
