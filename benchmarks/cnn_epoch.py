"""Epoch time of a LeNet-style CNN in layernet against the same network in PyTorch CPU.

The network: Conv2D(1->16, 3x3, padding 1) ReLU MaxPool2D(2) Conv2D(16->32, 3x3,
padding 1) ReLU MaxPool2D(2) Flatten Dense(128) ReLU Dense(10) Softmax, trained
with cross-entropy and Adam (lr 1e-3), batch 128, float32, one epoch on the
MNIST training set. layernet trains through its own API (``Trainer.fit``);
PyTorch through a plain loop over shuffled uint8 batches converted to float on
the fly, as layernet's ``Dataset.batch`` does. After one warm-up epoch each, the
timed epochs are interleaved (layernet, torch, layernet, ...) in this one
process with the same thread count; each epoch is timed by the wall clock and by
this process's CPU time (``time.process_time``, robust to other jobs on a shared
machine when each library runs one thread), and the medians of both and their
ratios are printed.

    python benchmarks/cnn_epoch.py                       # 1 thread, 3 timed epochs each
    python benchmarks/cnn_epoch.py --threads 2 --repeat 5
    python benchmarks/cnn_epoch.py --limit 2000          # quick smoke run on 2000 rows
    python benchmarks/cnn_epoch.py --profile             # + time per layer and phase in layernet
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/cnn_epoch.py   # OpenBLAS's own CPU detection

MNIST is read from ``../shared/data/mnist`` beside the repository, or from
``$LAYERNET_MNIST_DIR``. ``--threads N`` (default 1) sets the BLAS/OpenMP
variables before numpy is imported and ``torch.set_num_threads(N)``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per library (default 3)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N rows only")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--mnist-dir", type=Path, default=None,
                        help="MNIST IDX folder (default $LAYERNET_MNIST_DIR or ../shared/data/mnist)")
    parser.add_argument("--profile", action="store_true",
                        help="after the timing, more layernet epochs timed per layer and phase "
                             "(medians over --profile-epochs)")
    parser.add_argument("--profile-epochs", type=int, default=1,
                        help="epochs for --profile (default 1)")
    parser.add_argument("--no-torch", action="store_true", help="time layernet only")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="cpu",
                        help="the clock that orders the profile (both are always printed)")
    return parser.parse_args(argv)


ARGS = parse_args(sys.argv[1:]) if __name__ == "__main__" else None
if ARGS is not None:
    # OpenBLAS reads its thread count once, when numpy loads it.
    os.environ.update({name: str(ARGS.threads) for name in THREAD_VARIABLES})
    sys.path.insert(0, str(REPO))      # this checkout's layernet, not an installed one

import dataclasses  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import layernet  # noqa: E402
from layernet.data import load_mnist_dir, prepare  # noqa: E402
from layernet.data.dataset import Dataset  # noqa: E402
from layernet.layers.activations import ReLU, Softmax  # noqa: E402
from layernet.layers.base import Layer  # noqa: E402
from layernet.layers.conv import Conv2D  # noqa: E402
from layernet.layers.dense import Dense  # noqa: E402
from layernet.layers.pooling import MaxPool2D  # noqa: E402
from layernet.layers.reshape import Flatten  # noqa: E402
from layernet.losses import CrossEntropy  # noqa: E402
from layernet.optimizers import Adam  # noqa: E402
from layernet.training import Trainer, TrainSettings  # noqa: E402


def mnist_folder(given: Path | None) -> Path:
    if given is not None:
        return given
    if os.environ.get("LAYERNET_MNIST_DIR"):
        return Path(os.environ["LAYERNET_MNIST_DIR"])
    return REPO.parent / "shared" / "data" / "mnist"


def layernet_network(seed: int = 0) -> layernet.Sequential:
    return layernet.Sequential([
        Conv2D(16, 3, padding=1), ReLU(), MaxPool2D(2),
        Conv2D(32, 3, padding=1), ReLU(), MaxPool2D(2),
        Flatten(), Dense(128, init="he_uniform"), ReLU(), Dense(10), Softmax(),
    ], input_shape=(1, 28, 28), seed=seed)


def layernet_epoch(train: Dataset, batch_size: int) -> tuple[Callable[[], int], layernet.Sequential]:
    model = layernet_network()
    trainer = Trainer(model, CrossEntropy(), Adam(model.parameters(), lr=1e-3),
                      settings=TrainSettings(epochs=1, batch_size=batch_size))

    def epoch() -> int:
        trainer.fit(train, epochs=trainer.epoch + 1)
        return trainer.epoch

    return epoch, model


def torch_epoch(x: np.ndarray, y: np.ndarray, batch_size: int, threads: int) -> Callable[[], int]:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.from_numpy(x.reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(y.astype(np.int64))
    generator = torch.Generator().manual_seed(0)
    epochs = 0

    def epoch() -> int:
        nonlocal epochs
        net.train()
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            rows = order[start:start + batch_size]
            batch = images[rows].float().mul_(1 / 255)
            optimizer.zero_grad()
            loss = loss_fn(net(batch), labels[rows])
            loss.backward()
            optimizer.step()
        epochs += 1
        return epochs

    return epoch


@dataclasses.dataclass(frozen=True)
class Spent:
    """Seconds by the wall clock and by this process's CPU time."""

    wall: float = 0.0
    cpu: float = 0.0

    def __add__(self, other: Spent) -> Spent:
        return Spent(self.wall + other.wall, self.cpu + other.cpu)

    def __sub__(self, other: Spent) -> Spent:
        return Spent(self.wall - other.wall, self.cpu - other.cpu)


def now() -> Spent:
    return Spent(time.perf_counter(), time.process_time())


def timed(run: Callable[[], int]) -> Spent:
    start = now()
    run()
    return now() - start


def profile_layers(model: layernet.Sequential, run: Callable[[], int]) -> dict[str, Spent]:
    """Time spent in each layer's forward and backward during one epoch ``run()``."""
    spent: dict[str, Spent] = defaultdict(Spent)
    originals: list[tuple[Layer, str, Any]] = []

    def wrap(layer: Layer, index: int, method: str) -> None:
        original = getattr(layer, method)
        label = f"[{index}] {type(layer).__name__}.{method}"

        def timed_method(*args: Any, **kwargs: Any) -> Any:
            start = now()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += now() - start

        originals.append((layer, method, original))
        setattr(layer, method, timed_method)

    for index, layer in enumerate(model.layers):
        # The first layer runs backward_parameters (no input gradient); the others run backward.
        for method in ("forward", "backward_parameters" if index == 0 else "backward"):
            wrap(layer, index, method)
    total = timed(run)
    for layer, method, _ in originals:
        delattr(layer, method)
    inside = sum(spent.values(), Spent())
    spent["outside layers (loss, Adam, batching)"] = total - inside
    spent["total epoch"] = total
    return dict(spent)


def median_spent(values: list[Spent]) -> Spent:
    return Spent(statistics.median(v.wall for v in values), statistics.median(v.cpu for v in values))


def main(args: argparse.Namespace) -> None:
    folder = mnist_folder(args.mnist_dir)
    splits = load_mnist_dir(folder)
    train = prepare(splits.train, flatten=False, shift=0.0, scale=1 / 255)
    train = dataclasses.replace(train, x=train.x.reshape(-1, 1, 28, 28))
    if args.limit is not None:
        train = train.subset(np.arange(min(args.limit, len(train))))
    x, y = train.x, train.labels()
    print(f"MNIST {folder}: {len(train)} rows, batch {args.batch_size}, float32, Adam, "
          f"{args.threads} thread(s), numpy {np.__version__}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}, "
          f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")

    run_layernet, model = layernet_epoch(train, args.batch_size)
    runs: dict[str, Callable[[], int]] = {"layernet": run_layernet}
    if not args.no_torch:
        try:
            import torch
            runs["torch"] = torch_epoch(x, y, args.batch_size, args.threads)
            print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
        except ImportError:
            print("torch not installed: timing layernet only")
    for run in runs.values():          # warm-up epoch each
        run()
    times: dict[str, list[Spent]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, run in runs.items():
            times[name].append(timed(run))
    medians = {name: median_spent(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:>9}: median wall {medians[name].wall:7.3f} s/epoch  cpu {medians[name].cpu:7.3f} s/epoch"
              f"   (wall {', '.join(f'{v.wall:.3f}' for v in values)}; "
              f"cpu {', '.join(f'{v.cpu:.3f}' for v in values)})")
    if "torch" in times:
        ratio = Spent(medians["layernet"].wall / medians["torch"].wall,
                      medians["layernet"].cpu / medians["torch"].cpu)
        print(f"    ratio: layernet / torch = {ratio.wall:.3f}x wall, {ratio.cpu:.3f}x cpu")
    if args.profile:
        profiles = [profile_layers(model, run_layernet) for _ in range(args.profile_epochs)]
        spent = {label: median_spent([p[label] for p in profiles]) for label in profiles[0]}
        batches = -(-len(train) // args.batch_size)
        total = spent["total epoch"]
        print(f"\nlayernet by layer and phase (median of {args.profile_epochs} epoch(s), "
              f"{batches} batches; sorted by {args.clock} time):")
        print(f"  {'':<42} {'cpu s':>7} {'%':>6} {'ms/batch':>9}   {'wall s':>7} {'%':>6}")

        def key(item: tuple[str, Spent]) -> float:
            return -(item[1].cpu if args.clock == "cpu" else item[1].wall)

        for label, seconds in sorted(spent.items(), key=key):
            print(f"  {label:<42} {seconds.cpu:7.3f} {100 * seconds.cpu / total.cpu:5.1f}% "
                  f"{1000 * seconds.cpu / batches:9.2f}   {seconds.wall:7.3f} "
                  f"{100 * seconds.wall / total.wall:5.1f}%")


if __name__ == "__main__":
    assert ARGS is not None
    main(ARGS)
