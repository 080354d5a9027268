"""Epoch time of layernet against PyTorch CPU and a hand-written numpy loop.

Trains the same network (same sizes, Adam, same batch size, float32) for one
epoch on MNIST training rows with each implementation and reports the median
of ``--repeat`` timed epochs, after one warm-up epoch. Data loading is not
timed; each implementation converts uint8 batches to float32 on the fly.

    python benchmarks/epoch_time.py                       # both networks, full MNIST if found
    python benchmarks/epoch_time.py --rows 10000 --repeat 1 --json out.json

Without ../shared/data/mnist it uses the embedded sample (10,000 rows).
PyTorch is optional (``pip install torch==2.13.0``); its column is skipped
when it is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import layernet as ln
from layernet.data import load_data
from layernet.training import Trainer
from layernet.training.settings import DataSettings, TrainSettings

REPO = Path(__file__).resolve().parent.parent
MNIST = REPO.parent / "shared" / "data" / "mnist"
NETWORKS = {"784-10-10": [10], "784-256-128-10": [256, 128]}


def layernet_epoch(x: np.ndarray, y: np.ndarray, hidden: list[int], batch: int) -> Callable[[], None]:
    layers: list[ln.Layer] = []
    for units in hidden:
        layers += [ln.Dense(units, init="he_uniform"), ln.ReLU()]
    model = ln.Sequential([*layers, ln.Dense(10), ln.Softmax()], input_shape=(784,), seed=0)
    trainer = Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters(), lr=1e-3),
                      settings=TrainSettings(epochs=1, batch_size=batch, shuffle=True))
    data = ln.data.Dataset(x, y, scale=1 / 255)

    def run() -> None:
        trainer.fit(data)

    return run


def numpy_epoch(x: np.ndarray, y: np.ndarray, hidden: list[int], batch: int) -> Callable[[], None]:
    """A fused, hand-written numpy MLP with Adam: the speed a careful person gets by hand."""
    rng = np.random.default_rng(0)
    sizes = [784, *hidden, 10]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
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
        grads: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
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

    def run() -> None:
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            train_step(x[index].astype(np.float32) / np.float32(255), y[index])

    return run


def torch_epoch(x: np.ndarray, y: np.ndarray, hidden: list[int], batch: int) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    layers: list[Any] = []
    sizes = [784, *hidden]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def run() -> None:
        order = torch.randperm(len(xt))
        for start in range(0, len(xt), batch):
            index = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[index].float() / 255), yt[index])
            loss.backward()
            optimizer.step()

    return run


def median_seconds(run: Callable[[], None], repeat: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="training rows to use (default: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per implementation")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    source = str(MNIST) if (MNIST / "train-images-idx3-ubyte.gz").exists() else "sample"
    train = load_data(DataSettings(source=source, normalize="none")).train
    x = np.ascontiguousarray(train.x.reshape(len(train), -1)[:args.rows])
    y = np.asarray(train.y)[:args.rows]
    print(f"data: {source}, {len(x)} rows, batch {args.batch_size}, {args.repeat} timed epochs, "
          f"{os.cpu_count()} cores, numpy {np.__version__}, python {platform.python_version()}")
    results: list[dict[str, Any]] = []
    print(f"| network | layernet s/epoch | numpy by hand s/epoch | PyTorch s/epoch | layernet / PyTorch |")
    print("|---|---|---|---|---|")
    for name in args.networks:
        hidden = NETWORKS[name]
        row: dict[str, Any] = {"network": name, "rows": len(x), "batch_size": args.batch_size}
        for label, factory in (("layernet", layernet_epoch), ("numpy", numpy_epoch), ("torch", torch_epoch)):
            run = factory(x, y, hidden, args.batch_size)
            row[label] = None if run is None else median_seconds(run, args.repeat)
        ratio = row["layernet"] / row["torch"] if row["torch"] else None
        row["ratio_to_torch"] = ratio
        results.append(row)
        torch_cell = f"{row['torch']:.3f}" if row["torch"] else "n/a"
        ratio_cell = f"{ratio:.2f}" if ratio else "n/a"
        print(f"| {name} | {row['layernet']:.3f} | {row['numpy']:.3f} | {torch_cell} | {ratio_cell} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
