"""Epoch time of layernet against PyTorch CPU and a hand-written numpy loop.

Trains the same network (same sizes, Adam, same batch size, float32) for one
epoch on MNIST training rows with each implementation, for every network and
batch size asked for. Each implementation runs one warm-up epoch, then the
timed epochs are interleaved (layernet, numpy, torch, layernet, ...) so that
load from other processes falls on all of them alike; the table shows the
median wall-clock time (``--clock cpu``: the median CPU time of this
process, which other processes on a shared machine barely disturb when each
library runs one thread). Data loading is not timed; each implementation converts uint8 batches
to float32 on the fly, and every timed epoch must take exactly
``ceil(rows / batch)`` optimiser steps.

    python benchmarks/epoch_time.py                                 # full MNIST if found
    python benchmarks/epoch_time.py --batch-sizes 32 64 128 --threads 1 --clock cpu --json out.json
    python benchmarks/epoch_time.py --rows 2000 --repeat 1 --implementations layernet numpy

``--threads N`` sets the BLAS and OpenMP thread counts of numpy and PyTorch
alike (numpy reads them once, when it loads, so this script sets them before
importing it); the default leaves numpy's BLAS at its own default and gives
PyTorch one thread per core. Without ../shared/data/mnist the embedded sample
(10,000 rows) is used. PyTorch is optional (``pip install torch==2.13.0``);
its column reads ``n/a`` when it is not installed.
"""

from __future__ import annotations

import argparse
import os
import sys

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_threads(argv: list[str]) -> None:
    """Export the ``--threads`` value (if any in ``argv``) to the BLAS/OpenMP variables.

    Must run before numpy is imported: OpenBLAS reads its thread count once, at load.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int)
    threads = parser.parse_known_args(argv)[0].threads
    if threads is not None:
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES})


if __name__ == "__main__":
    pin_threads(sys.argv[1:])

# The imports below read the thread variables set above.
import itertools
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import layernet as ln
from layernet.data import load_data
from layernet.training import Trainer
from layernet.data.settings import DataSettings
from layernet.training.settings import TrainSettings

REPO = Path(__file__).resolve().parent.parent
MNIST = REPO.parent / "shared" / "data" / "mnist"
NETWORKS = {"784-10-10": [10], "784-256-128-10": [256, 128]}
IMPLEMENTATIONS = ("layernet", "numpy", "torch")
#: wall: elapsed time; cpu: this process's CPU time (robust to other load with --threads 1).
CLOCKS = ("wall", "cpu")

#: One epoch of training; returns the number of optimiser steps it took.
Epoch = Callable[[], int]


def layernet_epoch(x: np.ndarray, y: np.ndarray, hidden: list[int], batch: int,
                   threads: int | None) -> Epoch:
    """layernet as a user runs it: ``Sequential`` + ``CrossEntropy`` + ``Adam`` through ``Trainer.fit``."""
    layers: list[ln.Layer] = []
    for units in hidden:
        layers += [ln.Dense(units, init="he_uniform"), ln.ReLU()]
    model = ln.Sequential([*layers, ln.Dense(10), ln.Softmax()], input_shape=(784,), seed=0)
    optimizer = ln.Adam(model.parameters(), lr=1e-3)
    trainer = Trainer(model, ln.CrossEntropy(), optimizer,
                      settings=TrainSettings(epochs=1, batch_size=batch, shuffle=True))
    data = ln.data.Dataset(x, y, scale=1 / 255)

    def run() -> int:
        before = optimizer.steps
        trainer.fit(data, epochs=trainer.epoch + 1)
        return optimizer.steps - before

    return run


def numpy_epoch(x: np.ndarray, y: np.ndarray, hidden: list[int], batch: int,
                threads: int | None) -> Epoch:
    """A fused, hand-written numpy MLP with Adam: the speed a careful person gets by hand."""
    rng = np.random.default_rng(0)
    sizes = [784, *hidden, 10]
    params: list[np.ndarray] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        limit = np.sqrt(6 / fan_in)
        params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                   np.zeros(fan_out, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = [0]

    def train_step(xb: np.ndarray, yb: np.ndarray) -> None:
        acts = [xb]
        for i in range(0, len(params) - 2, 2):
            acts.append(np.maximum(acts[-1] @ params[i] + params[i + 1], 0))
        z = acts[-1] @ params[-2] + params[-1]
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        z[np.arange(len(yb)), yb] -= 1
        delta = z / len(yb)
        grads: list[np.ndarray] = [delta] * len(params)
        for i in range(len(params) - 2, -1, -2):
            grads[i] = acts[i // 2].T @ delta
            grads[i + 1] = delta.sum(axis=0)
            if i:
                delta = (delta @ params[i].T) * (acts[i // 2] > 0)
        step[0] += 1
        c1, c2 = 1 - 0.9 ** step[0], 1 - 0.999 ** step[0]
        for p, g, mi, vi in zip(params, grads, m, v):
            mi *= 0.9
            mi += 0.1 * g
            vi *= 0.999
            vi += 0.001 * g * g
            p -= (1e-3 / c1) * mi / (np.sqrt(vi) / np.sqrt(c2) + 1e-8)

    def run() -> int:
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            train_step(x[index].astype(np.float32) / np.float32(255), y[index])
        return math.ceil(len(x) / batch)

    return run


def torch_epoch(x: np.ndarray, y: np.ndarray, hidden: list[int], batch: int,
                threads: int | None) -> Epoch | None:
    """The same network in PyTorch (``nn.Linear``, ``CrossEntropyLoss``, ``optim.Adam``); None without torch."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(threads or os.cpu_count() or 1)
    layers: list[Any] = []
    sizes = [784, *hidden]
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def run() -> int:
        order = torch.randperm(len(xt))
        steps = 0
        for start in range(0, len(xt), batch):
            index = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[index].float() / 255), yt[index])
            loss.backward()
            optimizer.step()
            steps += 1
        return steps

    return run


FACTORIES = {"layernet": layernet_epoch, "numpy": numpy_epoch, "torch": torch_epoch}


def time_epochs(runs: dict[str, Epoch], repeat: int, steps: int) -> dict[str, dict[str, list[float]]]:
    """Wall-clock and CPU seconds of ``repeat`` epochs per implementation, after one warm-up
    each, interleaved: ``{"wall": {name: [s, ...]}, "cpu": {...}}``.

    Raises ``RuntimeError`` if an epoch does not take exactly ``steps`` optimiser steps.
    """
    times: dict[str, dict[str, list[float]]] = {clock: {name: [] for name in runs} for clock in CLOCKS}
    for turn in range(repeat + 1):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            taken = run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if taken != steps:
                raise RuntimeError(f"{name} took {taken} steps in an epoch, expected {steps}")
            if turn:
                times["wall"][name].append(wall)
                times["cpu"][name].append(cpu)
    return times


def environment(threads: int | None) -> dict[str, Any]:
    """The machine and library versions the numbers were measured with."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    env: dict[str, Any] = {
        "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
        "blas": f"{blas.get('name')} {blas.get('version')}", "threads": threads,
        "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "load_average": list(os.getloadavg()),
    }
    try:
        import torch
        env["torch"] = torch.__version__
    except ImportError:
        env["torch"] = None
    return env


def load_rows(rows: int | None) -> tuple[str, np.ndarray, np.ndarray]:
    """``(source, x (n, 784) uint8, y (n,))`` from full MNIST if present, else the embedded sample."""
    source = str(MNIST) if (MNIST / "train-images-idx3-ubyte.gz").exists() else "sample"
    train = load_data(DataSettings(source=source, normalize="none")).train
    x = np.ascontiguousarray(train.x.reshape(len(train), -1)[:rows])
    return source, x, np.asarray(train.y)[:rows]


def cell(seconds: float | None) -> str:
    """A table cell: seconds with 3 decimals, or ``n/a``."""
    return "n/a" if seconds is None else f"{seconds:.3f}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="training rows to use (default: all)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64], metavar="N")
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per implementation")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--implementations", nargs="+", default=list(IMPLEMENTATIONS),
                        choices=IMPLEMENTATIONS)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads for numpy and PyTorch (default: libraries' defaults)")
    parser.add_argument("--clock", choices=CLOCKS, default="wall",
                        help="what the table shows: elapsed time, or process CPU time (meaningful with "
                             "--threads 1 on a machine shared with other work); JSON holds both")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.repeat < 1 or min(args.batch_sizes) < 1 or (args.rows is not None and args.rows < 1):
        parser.error("--repeat, --batch-sizes and --rows must be at least 1")
    if args.threads is not None and os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        parser.error("--threads only works when this file is run as a script (numpy was already loaded)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    source, x, y = load_rows(args.rows)
    env = environment(args.threads)
    print(f"data: {source}, {len(x)} rows; {args.clock} seconds, median of {args.repeat} epochs; {env['cores']} cores, "
          f"threads {args.threads or 'default'}; python {env['python']}, numpy {env['numpy']} "
          f"({env['blas']}), torch {env['torch'] or 'absent'}; load average "
          f"{env['load_average'][0]:.2f}\n")
    print("| network | batch | layernet s/epoch | numpy by hand s/epoch | PyTorch s/epoch | layernet / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    results: list[dict[str, Any]] = []
    for name in args.networks:
        for batch in args.batch_sizes:
            runs = {label: FACTORIES[label](x, y, NETWORKS[name], batch, args.threads)
                    for label in args.implementations}
            available = {label: run for label, run in runs.items() if run is not None}
            times = time_epochs(available, args.repeat, math.ceil(len(x) / batch))
            median = {label: statistics.median(times[args.clock][label]) if label in available else None
                      for label in IMPLEMENTATIONS}
            layernet, torch = median["layernet"], median["torch"]
            ratio = layernet / torch if layernet is not None and torch else None
            results.append({"network": name, "batch_size": batch, "rows": len(x),
                            "steps": math.ceil(len(x) / batch), "seconds": times,
                            "median": median, "ratio_to_torch": ratio})
            print(f"| {name} | {batch} | {cell(layernet)} | {cell(median['numpy'])} | "
                  f"{cell(torch)} | {'n/a' if ratio is None else f'{ratio:.2f}'} |", flush=True)
    env["load_average_after"] = list(os.getloadavg())
    print(f"\nload average after: {env['load_average_after'][0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "source": source, "repeat": args.repeat,
                                         "clock": args.clock, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
