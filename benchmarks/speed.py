"""layernet's speed benchmark: one command, every case, every contender, one process.

Cases (full MNIST, float32, Adam lr 1e-3, cross-entropy; ``docs/performance.md``):

    A  784-10-10          batch 128      D  784-1024-1024-10  batch 256
    B  784-256-128-10     batch 128      E  LeNet-style CNN   batch 128
    C  784-256-128-10     batch 32       S  the seeds' recipe: 784-10-10, full batch, SGD lr 0.1

Contenders, built once per case and timed with epochs interleaved (one warm-up
epoch each, then layernet, numpy, torch, gemm, layernet, ...), all under the same
thread count (threadpoolctl for OpenBLAS/OpenMP, ``torch.set_num_threads``):

* ``layernet``: ``ln.Sequential`` + ``ln.Trainer.fit`` on a uint8 ``ln.Dataset`` (x/255 per batch);
* ``numpy``: the numpy floor, ``benchmarks/numpy_floor.py`` (hand-written, preallocated);
* ``torch``: PyTorch CPU, ``nn.Sequential`` + ``optim.Adam`` (skipped when torch is absent);
* ``gemm``: the GEMM floor, the same epoch's matrix products alone.

S trains ``configs/digits-784-10-10.yaml`` through ``ln.load_run_config`` + ``ln.Trainer``
against ``benchmarks/seeds_loop.py`` (float64, column-major) from the same initial
weights, in interleaved chunks of steps. Besides the epochs: inference images/s on the
test images (A, B, E), the peak RSS of a training process (B, E; a child process each),
``import layernet`` and ``layernet --help`` times (child processes, median of 5).

    python benchmarks/speed.py                                  # everything, 1 thread
    python benchmarks/speed.py --threads 2 --both-envs --json out.json
    python benchmarks/speed.py --cases A,S --epochs 1 --limit 2000 --steps 20   # smoke run
    python benchmarks/speed.py --cases E --profile              # + where layernet's time goes
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CORETYPE_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ALL_CASES = ("A", "B", "C", "D", "E", "S")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                     epilog="\n\n".join((__doc__ or "").split("\n\n")[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="threads for every contender (default 1)")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help="comma-separated, default A,B,C,D,E,S")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per contender (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="use the first N training (and test) rows")
    parser.add_argument("--steps", type=int, default=500, help="S: gradient-descent steps (default 500)")
    parser.add_argument("--repeats", type=int, default=5, help="inference and start-up repeats (default 5)")
    parser.add_argument("--json", type=Path, help="also write every measurement here")
    parser.add_argument("--both-envs", action="store_true",
                        help="run again in a child with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset")
    parser.add_argument("--synthetic", action="store_true",
                        help="random 28x28 uint8 digits instead of MNIST (for smoke runs without the files)")
    parser.add_argument("--mnist-dir", type=Path, default=None,
                        help="MNIST IDX folder (default $LAYERNET_MNIST_DIR or ../shared/data/mnist)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--no-extras", action="store_true", help="epochs only: no inference, RSS, start-up")
    parser.add_argument("--profile", action="store_true",
                        help="after timing, one layernet epoch per case timed by layer and phase, "
                             "and one under cProfile")
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="print the tables of a saved --json report (and its --both-envs part) and exit")
    parser.add_argument("--child-rss", metavar="CASE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.cases = [c.strip().upper() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(args.cases) - set(ALL_CASES))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {','.join(ALL_CASES)}")
    if min(args.threads, args.epochs, args.steps, args.repeats) < 1 or args.warmup < 0 or \
            (args.limit is not None and args.limit < 1):
        parser.error("--threads, --epochs, --steps, --repeats and --limit must be at least 1")
    return args


ARGS = parse_args(sys.argv[1:]) if __name__ == "__main__" else None
if ARGS is not None:
    # OpenBLAS sizes its thread pool when numpy loads it; threadpoolctl then holds it at N.
    os.environ.update({name: str(ARGS.threads) for name in THREAD_VARIABLES})
    sys.path.insert(0, str(REPO))       # this checkout's layernet
sys.path.insert(0, str(HERE))           # numpy_floor, seeds_loop

import cProfile  # noqa: E402
import dataclasses  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import layernet as ln  # noqa: E402
import numpy_floor as nf  # noqa: E402
from layernet import kernels  # noqa: E402
from seeds_loop import SeedsLoop  # noqa: E402

Epoch = Callable[[], int]
CLOCKS = ("wall", "cpu")


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    title: str
    hidden: tuple[int, ...] | None      # None: the CNN
    batch: int
    inference: bool = False
    rss: bool = False

    @property
    def sizes(self) -> list[int]:
        return [784, *(self.hidden or ()), 10]


CASES = {
    "A": Case("A", "784-10-10", (10,), 128, inference=True),
    "B": Case("B", "784-256-128-10", (256, 128), 128, inference=True, rss=True),
    "C": Case("C", "784-256-128-10", (256, 128), 32),
    "D": Case("D", "784-1024-1024-10", (1024, 1024), 256),
    "E": Case("E", "CNN (LeNet-style)", None, 128, inference=True, rss=True),
}

#: The targets of the Speed issue: (what, case, ratio or value, bound, "<=" or ">=").
TARGETS: list[tuple[str, str, str, float, str]] = [
    *[("layernet/PyTorch", c, "torch", b, "<=") for c, b in
      (("A", 0.30), ("B", 0.60), ("C", 0.55), ("D", 0.80), ("E", 1.00))],
    *[("layernet/numpy floor", c, "numpy", b, "<=") for c, b in
      (("A", 1.10), ("B", 1.10), ("C", 1.10), ("D", 1.10), ("E", 1.15))],
    *[("layernet/GEMM floor", c, "gemm", b, "<=") for c, b in
      (("B", 1.30), ("D", 1.20), ("E", 1.50), ("S", 1.15))],
    ("seeds' loop/layernet", "S", "seeds", 2.5, ">="),
    *[("inference layernet/PyTorch", c, "inference", 1.0, ">=") for c in "ABE"],
    ("peak RSS MB", "B", "rss", 350, "<="), ("peak RSS MB", "E", "rss", 450, "<="),
    ("import layernet s", "-", "import", 0.3, "<="), ("layernet --help s", "-", "help", 0.5, "<="),
]


# -- data ----------------------------------------------------------------------------------------

def mnist_folder(given: Path | None) -> Path:
    """``given``, else ``$LAYERNET_MNIST_DIR``, else ``../shared/data/mnist`` beside the repository."""
    if given is not None:
        return given
    if os.environ.get("LAYERNET_MNIST_DIR"):
        return Path(os.environ["LAYERNET_MNIST_DIR"])
    return REPO.parent / "shared" / "data" / "mnist"


def synthetic(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: a fixed random template per class plus noise, uint8 ``(rows, 784)``."""
    rng = np.random.default_rng(seed)
    templates = np.random.default_rng(12345).integers(0, 256, (10, 784))
    y = rng.integers(0, 10, rows)
    x = np.clip(templates[y] + rng.integers(-60, 61, (rows, 784)), 0, 255).astype(np.uint8)
    return x, y


def load(args: argparse.Namespace) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(source, x_train uint8 (n, 784), y_train, x_test uint8 (m, 784), y_test)``."""
    if args.synthetic:
        rows = args.limit or 60000
        x, y = synthetic(rows, 0)
        xt, yt = synthetic(min(rows, 10000), 1)
        return "synthetic", x, y, xt, yt
    folder = mnist_folder(args.mnist_dir)
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        raise SystemExit(f"MNIST not found in {folder}: set LAYERNET_MNIST_DIR, --mnist-dir, or use --synthetic")
    splits = ln.load_data(ln.DataSettings(source=str(folder), normalize="none", limit=args.limit))
    assert splits.test is not None

    def rows(data: ln.Dataset, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(np.asarray(data.x).reshape(len(data), 784)[:limit], dtype=np.uint8)
        return x, np.asarray(data.labels())[:limit].astype(np.int64)

    x, y = rows(splits.train, args.limit)
    xt, yt = rows(splits.test, args.limit)
    return str(folder), x, y, xt, yt


# -- contenders ----------------------------------------------------------------------------------

def layernet_model(case: Case, seed: int = 0) -> ln.Sequential:
    """The case's network in layernet's public API."""
    if case.hidden is None:
        return ln.Sequential([
            ln.Conv2D(16, 3, padding=1), ln.ReLU(), ln.MaxPool2D(2),
            ln.Conv2D(32, 3, padding=1), ln.ReLU(), ln.MaxPool2D(2),
            ln.Flatten(), ln.Dense(128, init="he_uniform"), ln.ReLU(), ln.Dense(10), ln.Softmax(),
        ], input_shape=(1, 28, 28), seed=seed)
    layers: list[ln.Layer] = []
    for units in case.hidden:
        layers += [ln.Dense(units, init="he_uniform"), ln.ReLU()]
    return ln.Sequential([*layers, ln.Dense(10), ln.Softmax()], input_shape=(784,), seed=seed)


def images(case: Case, x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, 1, 28, 28) if case.hidden is None else x


class LayernetContender:
    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray) -> None:
        self.model = layernet_model(case)
        self.optimizer = ln.Adam(self.model.parameters(), lr=1e-3)
        self.trainer = ln.Trainer(self.model, ln.CrossEntropy(), self.optimizer,
                                  settings=ln.TrainSettings(epochs=1, batch_size=case.batch, shuffle=True))
        self.data = ln.Dataset(images(case, x), y, scale=1 / 255)

    def epoch(self) -> int:
        before = self.optimizer.steps
        self.trainer.fit(self.data, epochs=self.trainer.epoch + 1)
        return self.optimizer.steps - before

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x, batch_size=nf.INFERENCE_BATCH)


class TorchContender:
    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray) -> None:
        import torch

        self.torch = torch
        torch.manual_seed(0)
        nn = torch.nn
        if case.hidden is None:
            self.net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
        else:
            layers: list[Any] = []
            for fan_in, fan_out in zip(case.sizes[:-2], case.sizes[1:-1]):
                layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
            self.net = nn.Sequential(*layers, nn.Linear(case.sizes[-2], 10))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.loss = nn.CrossEntropyLoss()
        self.x = torch.from_numpy(images(case, x))
        self.y = torch.from_numpy(y.astype(np.int64))
        self.batch = case.batch
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self) -> int:
        self.net.train()
        order = self.torch.randperm(len(self.x), generator=self.generator)
        steps = 0
        for start in range(0, len(self.x), self.batch):
            rows = order[start:start + self.batch]
            self.optimizer.zero_grad()
            loss = self.loss(self.net(self.x[rows].float().mul_(1 / 255)), self.y[rows])
            loss.backward()
            self.optimizer.step()
            steps += 1
        return steps

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.net.eval()
        xt = self.torch.from_numpy(x)
        with self.torch.no_grad():
            out = [self.net(xt[i:i + nf.INFERENCE_BATCH]) for i in range(0, len(xt), nf.INFERENCE_BATCH)]
        return self.torch.cat(out).numpy()


def numpy_contender(case: Case, x: np.ndarray, y: np.ndarray) -> Any:
    return nf.CNNFloor(x, y, case.batch) if case.hidden is None else nf.MLPFloor(x, y, case.sizes, case.batch)


def gemm_contender(case: Case, rows: int) -> nf.GemmFloor:
    gemms = nf.cnn_gemms if case.hidden is None else (lambda n: nf.mlp_gemms(case.sizes, n))
    return nf.GemmFloor(gemms, rows, case.batch)


# -- timing --------------------------------------------------------------------------------------

def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def time_interleaved(runs: dict[str, Callable[[], int]], warmup: int, timed: int,
                     steps: int | None) -> dict[str, dict[str, list[float]]]:
    """``{name: {"wall": [...], "cpu": [...]}}`` of ``timed`` interleaved calls after ``warmup``
    each; every call must report ``steps`` optimiser steps (when given)."""
    times: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in runs}
    for turn in range(warmup + timed):
        for name, run in runs.items():
            wall, cpu = clocks()
            taken = run()
            wall2, cpu2 = clocks()
            if steps is not None and taken != steps:
                raise RuntimeError(f"{name} took {taken} steps in an epoch, expected {steps}")
            if turn >= warmup:
                times[name]["wall"].append(wall2 - wall)
                times[name]["cpu"].append(cpu2 - cpu)
    return times


def medians(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {name: {clock: statistics.median(v[clock]) for clock in CLOCKS} for name, v in times.items()}


def ratios(med: dict[str, dict[str, float]], of: str, to: str) -> dict[str, float] | None:
    if of not in med or to not in med:
        return None
    return {clock: med[of][clock] / med[to][clock] for clock in CLOCKS}


def profile_layernet(contender: LayernetContender) -> dict[str, Any]:
    """One epoch timed per layer and phase (wrappers), then one epoch under cProfile."""
    spent: dict[str, float] = defaultdict(float)
    wrapped: list[tuple[Any, str]] = []

    def wrap(owner: Any, method: str, label: str) -> None:
        original = getattr(owner, method)

        def timed(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                spent[label] += time.perf_counter() - start

        wrapped.append((owner, method))
        object.__setattr__(owner, method, timed)   # some owners are frozen dataclasses

    layers = contender.model.layers
    for index, layer in enumerate(layers):
        for method in ("forward", "backward_parameters" if index == 0 else "backward"):
            wrap(layer, method, f"[{index}] {type(layer).__name__}.{method}")
    wrap(contender.optimizer, "step", "optimizer.step (Adam)")
    wrap(contender.optimizer, "zero_grad", "optimizer.zero_grad")
    wrap(contender.trainer.objective, "forward", "objective.forward (layers + loss)")
    wrap(contender.data, "batch", "Dataset.batch (uint8 -> float32)")
    start = time.perf_counter()
    contender.epoch()
    total = time.perf_counter() - start
    for owner, method in wrapped:
        object.__delattr__(owner, method)
    layer_sum = sum(v for k, v in spent.items() if k.startswith("["))
    forward_sum = sum(v for k, v in spent.items() if k.startswith("[") and k.endswith(".forward"))
    spent["loss (objective.forward minus the layers' forward)"] = \
        spent.pop("objective.forward (layers + loss)") - forward_sum
    spent["rest of the loop (trainer, accuracy count, shuffling)"] = total - layer_sum - sum(
        v for k, v in spent.items() if not k.startswith("["))
    profiler = cProfile.Profile()
    profiler.enable()
    contender.epoch()
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(15)
    return {"total_s": total, "by_layer_and_phase_s": dict(sorted(spent.items(), key=lambda kv: -kv[1])),
            "cprofile_top_tottime": stream.getvalue()}


def run_case(case: Case, args: argparse.Namespace, data: tuple[np.ndarray, ...],
             use_torch: bool) -> dict[str, Any]:
    x, y, xt, yt = data
    steps = math.ceil(len(x) / case.batch)
    contenders: dict[str, Any] = {"layernet": LayernetContender(case, x, y),
                                  "numpy": numpy_contender(case, x, y)}
    if use_torch:
        contenders["torch"] = TorchContender(case, x, y)
    gemm = gemm_contender(case, len(x))
    runs: dict[str, Callable[[], int]] = {name: c.epoch for name, c in contenders.items()}
    runs["gemm"] = gemm.epoch
    times = time_interleaved(runs, args.warmup, args.epochs, steps)
    med = medians(times)
    result: dict[str, Any] = {
        "case": case.name, "network": case.title, "batch": case.batch, "rows": len(x), "steps": steps,
        "seconds": times, "median": med,
        "ratio": {"torch": ratios(med, "layernet", "torch"), "numpy": ratios(med, "layernet", "numpy"),
                  "gemm": ratios(med, "layernet", "gemm")},
    }
    if case.inference and not args.no_extras:
        test = images(case, (xt / np.float32(255)).astype(np.float32))
        predictors = {name: c.predict for name, c in contenders.items()}
        accuracy = {name: float(np.mean(np.argmax(p(test), axis=1) == yt)) for name, p in predictors.items()}
        inf_times = time_interleaved({n: (lambda p=p: (p(test), 0)[1]) for n, p in predictors.items()},
                                     1, args.repeats, None)
        inf_med = medians(inf_times)
        result["inference"] = {
            "images": len(test), "batch": nf.INFERENCE_BATCH, "seconds": inf_times,
            "images_per_s": {n: len(test) / m["wall"] for n, m in inf_med.items()},
            "images_per_cpu_s": {n: len(test) / m["cpu"] for n, m in inf_med.items()},
            "test_accuracy_after_training": accuracy}
    if args.profile:
        result["profile"] = profile_layernet(contenders["layernet"])
    return result


def run_seeds(args: argparse.Namespace, data: tuple[np.ndarray, ...]) -> dict[str, Any]:
    """Case S: the seeds' recipe in layernet (config + Trainer) against the seeds' loop."""
    x, y, xt, yt = data
    config = ln.load_run_config(REPO / "configs" / "digits-784-10-10.yaml").with_overrides(epochs=args.steps)
    model = config.build_model()
    optimizer = config.build_optimizer(model.parameters())
    trainer = ln.Trainer(model, config.build_loss(), optimizer, schedule=config.build_schedule(),
                         settings=config.train)
    # The config's data section (scale = 1/255, flattened) on the same rows as every contender.
    # A full-batch fit converts the whole training set to float32 once, when it starts; the
    # timing below calls fit once per chunk, so that conversion is done here, once, instead
    # (else every chunk would pay it again: about 50 ms per chunk on full MNIST).
    train = ln.Dataset(ln.Dataset(x, y, scale=1 / 255).batch(slice(None)), y)
    test = ln.Dataset(xt, yt, scale=1 / 255)
    W1, b1 = model[0].weight.value.T.astype(np.float64), model[0].bias.value[:, None].astype(np.float64)
    W2, b2 = model[2].weight.value.T.astype(np.float64), model[2].bias.value[:, None].astype(np.float64)
    X = (x / 255.).T            # the seeds: X_train = data_train[1:n] / 255., one sample per column
    seeds = SeedsLoop(X, y, alpha=0.1, params=(W1, b1, W2, b2))
    gemm = nf.GemmFloor(lambda n: nf.mlp_gemms([784, 10, 10], n), len(x), len(x))
    chunk = max(1, args.steps // 10)

    def layernet_chunk(n: int) -> int:
        before = trainer.epoch
        trainer.fit(train, epochs=trainer.epoch + n)
        return trainer.epoch - before

    def gemm_chunk(n: int) -> int:
        return sum(gemm.epoch() for _ in range(n))

    runs = {"layernet": layernet_chunk, "seeds": seeds.run, "gemm": gemm_chunk}
    per_step: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in runs}
    done = 0
    while done < args.steps:
        n = min(chunk, args.steps - done)
        for name, run in runs.items():
            wall, cpu = clocks()
            taken = run(n)
            wall2, cpu2 = clocks()
            if taken != n:
                raise RuntimeError(f"S: {name} took {taken} steps, expected {n}")
            per_step[name]["wall"].append((wall2 - wall) / n)
            per_step[name]["cpu"].append((cpu2 - cpu) / n)
        done += n
    med = medians(per_step)
    accuracy = {"layernet": trainer.evaluate(test).accuracy,
                "seeds": seeds.accuracy((xt / 255.).T, yt)}
    return {"case": "S", "network": "784-10-10 full batch, SGD lr 0.1 (configs/digits-784-10-10.yaml)",
            "rows": len(x), "steps": args.steps, "chunk": chunk, "seconds_per_step": per_step,
            "median": med, "total_s": {n: {c: sum(v[c]) * chunk for c in CLOCKS} for n, v in per_step.items()},
            "ratio": {"seeds": ratios(med, "seeds", "layernet"), "gemm": ratios(med, "layernet", "gemm")},
            "test_accuracy": accuracy,
            "accuracy_difference_points": 100 * abs(accuracy["layernet"] - accuracy["seeds"])}


# -- child processes -----------------------------------------------------------------------------

def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def child_rss(args: argparse.Namespace) -> int:
    """In a child: load uint8 data, train the case's layernet model one epoch, print peak RSS (JSON)."""
    case = CASES[args.child_rss]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, x, y, _, _ = load(args)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    contender = LayernetContender(case, x, y)
    with threadpool_limits(limits=args.threads):
        contender.epoch()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = next((int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:")), 0) if Path("/proc/self/status").exists() else 0
    print(json.dumps({"case": case.name, "rows": len(x), "peak_mb": peak / 1024, "vmhwm_mb": hwm / 1024,
                      "after_imports_mb": before / 1024, "after_data_mb": loaded / 1024,
                      "torch_imported": "torch" in sys.modules}))
    return 0


def measure_rss(case: str, args: argparse.Namespace) -> dict[str, Any]:
    # Linux carries a process's ru_maxrss over fork + exec, so a child forked straight from this
    # large process would report this process's peak. A small /bin/sh in between forks the
    # measured interpreter from its own, small memory (the "; exit" keeps sh from exec'ing it).
    command = ["/bin/sh", "-c", '"$@"; exit $?', "sh",
               sys.executable, str(Path(__file__).resolve()), "--child-rss", case,
               "--threads", str(args.threads)]
    command += ["--limit", str(args.limit)] if args.limit else []
    command += ["--synthetic"] if args.synthetic else []
    command += ["--mnist-dir", str(args.mnist_dir)] if args.mnist_dir else []
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def startup_times(repeats: int) -> dict[str, Any]:
    """``import layernet`` (timed inside a fresh interpreter) and ``python -m layernet --help``
    (the whole child process), medians of ``repeats``; a bare interpreter for reference."""
    code = "import time; t = time.perf_counter(); import layernet; print(time.perf_counter() - t)"
    imports, helps, bare = [], [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=child_env(), cwd=REPO, check=True)
        imports.append(float(out.stdout.strip()))
        for command, into in (([sys.executable, "-m", "layernet", "--help"], helps),
                              ([sys.executable, "-c", "pass"], bare)):
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, env=child_env(), cwd=REPO, check=True)
            into.append(time.perf_counter() - start)
    return {"import_layernet_s": statistics.median(imports), "help_s": statistics.median(helps),
            "bare_python_s": statistics.median(bare),
            "samples": {"import": imports, "help": helps, "bare_python": bare}}


# -- machine ------------------------------------------------------------------------------------

def adam_update() -> str:
    """How layernet's Adam updates here: the compiled kernel of the ``[fast]`` extra, or numpy."""
    if kernels.adam_kernel() is None:
        return "numpy passes (numba not installed or LAYERNET_KERNELS=numpy)"
    import numba
    return f"one compiled pass (numba {numba.__version__})"


def machine(threads: int, use_torch: bool) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "layernet": ln.__version__, "threads": threads,
        "env": {name: os.environ.get(name) for name in (*CORETYPE_VARIABLES, *THREAD_VARIABLES)},
        "threadpools": [{k: pool.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                                   "architecture", "num_threads", "threading_layer")}
                        for pool in threadpool_info()],
        "load_average_before": list(os.getloadavg()),
        "adam_update": adam_update(),
    }
    info["torch"] = None
    if use_torch:
        import torch
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    return info


# -- report -------------------------------------------------------------------------------------

def fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def pair(med: dict[str, dict[str, float]], name: str) -> str:
    return "n/a" if name not in med else f"{med[name]['wall']:.3f} / {med[name]['cpu']:.3f}"


def ratio_cell(r: dict[str, float] | None) -> str:
    return "n/a" if r is None else f"{r['wall']:.2f} / {r['cpu']:.2f}"


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the Speed issue against this report: ``value`` on wall-clock medians,
    ``value_cpu`` on CPU-time medians (where a clock applies), and whether each is met."""
    cases = {c["case"]: c for c in report["cases"]}
    rows = []
    for what, case, key, bound, sense in TARGETS:
        value: float | None = None
        value_cpu: float | None = None
        if key in ("torch", "numpy", "gemm", "seeds") and case in cases:
            r = cases[case]["ratio"].get(key)
            value, value_cpu = (None, None) if r is None else (r["wall"], r["cpu"])
        elif key == "inference" and case in cases and "inference" in cases[case]:
            inference = cases[case]["inference"]
            ips, cps = inference["images_per_s"], inference["images_per_cpu_s"]
            if "torch" in ips:
                value, value_cpu = ips["layernet"] / ips["torch"], cps["layernet"] / cps["torch"]
        elif key == "rss" and case in report.get("rss", {}):
            value = report["rss"][case]["peak_mb"]
        elif key in ("import", "help") and report.get("startup"):
            value = report["startup"]["import_layernet_s" if key == "import" else "help_s"]

        def met(v: float | None) -> bool | None:
            return None if v is None else (v <= bound if sense == "<=" else v >= bound)

        rows.append({"target": what, "case": case, "bound": f"{sense} {bound:g}", "value": value,
                     "met": met(value), "value_cpu": value_cpu, "met_cpu": met(value_cpu)})
    return rows


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    blas = [p for p in m["threadpools"] if p["user_api"] == "blas"]
    print(f"\n### {m['threads']} thread(s); OPENBLAS_CORETYPE={m['env']['OPENBLAS_CORETYPE'] or '(unset)'}, "
          f"OPENBLAS_L2_SIZE={m['env']['OPENBLAS_L2_SIZE'] or '(unset)'}\n")
    print(f"{m['cpu']}, {m['cores']} cores; Python {m['python']}, numpy {m['numpy']}, "
          f"torch {m['torch'] or 'not used'}; data {report['source']}; load average "
          f"{m['load_average_before'][0]:.2f} before, {report['load_average_after'][0]:.2f} after")
    for p in blas:
        print(f"BLAS (threadpoolctl): {p['internal_api']} {p['version']}, kernel {p['architecture']}, "
              f"{p['num_threads']} thread(s)")
    print(f"layernet's Adam update: {m.get('adam_update', 'not recorded')}")
    print(f"\nSeconds per epoch, median of {report['epochs']} interleaved epochs, wall / CPU; "
          f"ratios layernet / contender, wall / CPU.\n")
    print("| case | network | batch | layernet | numpy floor | PyTorch | GEMM floor "
          "| ln/PyTorch | ln/numpy | ln/GEMM |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in report["cases"]:
        if c["case"] == "S":
            continue
        med = c["median"]
        print(f"| {c['case']} | {c['network']} | {c['batch']} | {pair(med, 'layernet')} | "
              f"{pair(med, 'numpy')} | {pair(med, 'torch')} | {pair(med, 'gemm')} | "
              f"{ratio_cell(c['ratio']['torch'])} | {ratio_cell(c['ratio']['numpy'])} | "
              f"{ratio_cell(c['ratio']['gemm'])} |")
    for c in report["cases"]:
        if c["case"] != "S":
            continue
        med, acc = c["median"], c["test_accuracy"]
        print(f"\nS: {c['network']}, {c['rows']} rows, {c['steps']} steps in chunks of {c['chunk']}; "
              f"ms per step, median over chunks, wall / CPU\n")
        print("| contender | ms/step | total s (wall) | test accuracy |")
        print("|---|---:|---:|---:|")
        for name, label in (("layernet", "layernet (config + Trainer)"), ("seeds", "seeds' loop (float64)"),
                            ("gemm", "GEMM floor (float32)")):
            print(f"| {label} | {1000 * med[name]['wall']:.2f} / {1000 * med[name]['cpu']:.2f} | "
                  f"{c['total_s'][name]['wall']:.2f} | "
                  f"{fmt(100 * acc[name], 2) + ' %' if name in acc else '-'} |")
        print(f"\nseeds' loop / layernet: {ratio_cell(c['ratio']['seeds'])}; layernet / GEMM floor: "
              f"{ratio_cell(c['ratio']['gemm'])}; accuracy difference {c['accuracy_difference_points']:.2f} points")
    inference = [c for c in report["cases"] if "inference" in c]
    if inference:
        print(f"\nInference on {inference[0]['inference']['images']} test images, batches of "
              f"{inference[0]['inference']['batch']}: images/s (wall, median of {report['repeats']}); "
              f"test accuracy after the timed epochs\n")
        print("| case | layernet | numpy floor | PyTorch | ln/PyTorch | accuracy ln / numpy / PyTorch |")
        print("|---|---:|---:|---:|---:|---|")
        for c in inference:
            ips, acc = c["inference"]["images_per_s"], c["inference"]["test_accuracy_after_training"]
            r = ips["layernet"] / ips["torch"] if "torch" in ips else None
            torch_ips = "n/a" if "torch" not in ips else f"{ips['torch']:,.0f}"
            print(f"| {c['case']} | {ips['layernet']:,.0f} | {ips['numpy']:,.0f} | "
                  f"{torch_ips} | {fmt(r, 2)} | "
                  f"{' / '.join(f'{100 * acc[n]:.1f}' for n in acc)} |")
    if report.get("rss"):
        print("\nPeak RSS of a layernet training process (one epoch, uint8 data), MB\n")
        print("| case | peak | after imports | after loading data |")
        print("|---|---:|---:|---:|")
        for name, r in report["rss"].items():
            print(f"| {name} | {r['peak_mb']:.0f} | {r['after_imports_mb']:.0f} | {r['after_data_mb']:.0f} |")
    if report.get("startup"):
        s = report["startup"]
        print(f"\nStart-up, median of {report['repeats']}: import layernet {s['import_layernet_s']:.3f} s; "
              f"python -m layernet --help {s['help_s']:.3f} s (a bare interpreter: {s['bare_python_s']:.3f} s)")
    print("\nTargets: measured on wall-clock medians / on CPU-time medians\n")
    print("| target | case | bound | measured (wall / CPU) | met (wall / CPU) |")
    print("|---|---|---|---:|---|")

    def yes(met: bool | None) -> str:
        return "-" if met is None else ("yes" if met else "**no**")

    for t in report["targets"]:
        value = fmt(t["value"], 2) + ("" if t.get("value_cpu") is None else f" / {t['value_cpu']:.2f}")
        met = yes(t["met"]) + ("" if t.get("value_cpu") is None else f" / {yes(t['met_cpu'])}")
        print(f"| {t['target']} | {t['case']} | {t['bound']} | {value} | {met} |")
    for c in report["cases"]:
        if "profile" in c:
            p = c["profile"]
            print(f"\nProfile, case {c['case']}: one layernet epoch {p['total_s']:.3f} s (wall) by layer and phase")
            for label, seconds in p["by_layer_and_phase_s"].items():
                print(f"  {label:<58} {seconds:8.3f} s {100 * seconds / p['total_s']:6.1f} %")
            print(p["cprofile_top_tottime"])
    sys.stdout.flush()


def main(args: argparse.Namespace) -> int:
    if args.child_rss:
        return child_rss(args)
    if args.report:
        saved = json.loads(args.report.read_text())
        for part in (saved, saved.get("unset_env")):
            if part:
                part["targets"] = targets(part)
                print_report(part)
        return 0
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            use_torch = False
    with threadpool_limits(limits=args.threads):
        report: dict[str, Any] = {"machine": machine(args.threads, use_torch), "epochs": args.epochs,
                                  "warmup": args.warmup, "repeats": args.repeats, "argv": sys.argv[1:]}
        source, *data = load(args)
        report["source"] = source
        report["cases"] = []
        for name in args.cases:
            start = time.perf_counter()
            result = run_seeds(args, tuple(data)) if name == "S" else \
                run_case(CASES[name], args, tuple(data), use_torch)
            print(f"case {name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
            report["cases"].append(result)
    if not args.no_extras:
        report["rss"] = {c: measure_rss(c, args) for c in args.cases if c in CASES and CASES[c].rss}
        report["startup"] = startup_times(args.repeats)
    report["load_average_after"] = list(os.getloadavg())
    report["targets"] = targets(report)
    print_report(report)
    if args.json:       # written now too, so a failed or stopped second run keeps this one
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    if args.both_envs:
        report["unset_env"] = run_unset_env(args)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def run_unset_env(args: argparse.Namespace) -> dict[str, Any]:
    """This benchmark again in a child without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE; its report."""
    argv = [a for a in sys.argv[1:] if a != "--both-envs"]
    if "--json" in argv:
        i = argv.index("--json")
        del argv[i:i + 2]
    argv = [a for a in argv if not a.startswith("--json=")]
    env = {k: v for k, v in child_env().items() if k not in CORETYPE_VARIABLES}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "unset.json"
        print("\n## again with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset", flush=True)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv, "--json", str(out)],
                       env=env, check=True)
        return dict(json.loads(out.read_text()))


if __name__ == "__main__":
    assert ARGS is not None
    sys.exit(main(ARGS))
