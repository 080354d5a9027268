"""Bounded memory: a hostile file of at most 1 MB never raises peak RSS by more than 100 MB.

Each case runs ``layernet`` in a fresh child process (so the peak is its own) that
reports ``ru_maxrss`` at exit; the baseline is a child that only imports layernet.
The children run concurrently to keep the suite quick.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_hostile_support import (CONFIG, array_npy, gzip_zeros, idx_bytes, lying_member, members_of,
                                  mnist_dir, model_file, npy, replace_members, text_npy, write_zip,
                                  zip_bomb_member)

REPO = Path(__file__).resolve().parent.parent
LIMIT = 100 * 2**20
#: Runs ``layernet.cli.main(argv)`` and prints the exit code and peak RSS (KiB on Linux).
CHILD = """
import resource, sys
sys.path.insert(0, {repo!r})
import layernet
code = 0
if sys.argv[1:]:
    from layernet.cli import main
    code = main(sys.argv[1:])
print("RESULT", code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""

pytestmark = [pytest.mark.process, pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")]


def hostile_cases(tmp: Path) -> dict[str, tuple[list[str], Path, set[int]]]:
    """Name -> (argv, the hostile file, accepted exit codes)."""
    config = tmp / "cfg.yaml"
    config.write_text(CONFIG)
    train = ["train", str(config), "--out", str(tmp / "run"), "--quiet", "--no-plots", "--data"]
    y = array_npy(np.zeros(12, np.int64))
    cases: dict[str, tuple[list[str], Path, set[int]]] = {}

    def add(name: str, argv: list[str], path: Path, codes: set[int] = frozenset({2})) -> None:  # type: ignore[assignment]
        cases[name] = (argv + [str(path)] if argv and argv[-1] == "--data" else argv, path, set(codes))

    npz_huge = write_zip(tmp / "huge-header.npz", {"x.npy": npy((10**12, 784), "<f8", bytes(64)), "y.npy": y})
    add("npz header (10**12, 784)", train, npz_huge)
    bomb = zip_bomb_member(tmp / "bomb.npz", "x.npy", npy((2**27, 8), "|u1", b""), 2**30, {"y.npy": y})
    add("npz 1 GiB zip bomb", train, bomb)
    lying = lying_member(tmp / "lying.npz", "x.npy", array_npy(np.zeros((12, 784), np.uint8)), 2**30,
                         {"y.npy": y})
    add("npz member inflating to 1 GiB beyond its size", train, lying, {0, 2})
    idx_dir = mnist_dir(tmp / "idx-bomb")
    (idx_dir / "train-images-idx3-ubyte.gz").write_bytes(
        gzip_zeros(idx_bytes((8, 3), (1_000_000, 28, 28), b""), 784_000_000))
    add("gzip IDX of 784 MB zeros", train, idx_dir)
    idx_lie = mnist_dir(tmp / "idx-lie")
    (idx_lie / "train-images-idx3-ubyte.gz").write_bytes(
        gzip_zeros(idx_bytes((8, 3), (12, 28, 28), b""), 2**30))
    add("gzip IDX inflating to 1 GiB beyond its header", train, idx_lie)
    idx_raw = mnist_dir(tmp / "idx-raw")
    (idx_raw / "train-images-idx3-ubyte.gz").unlink()
    (idx_raw / "train-images-idx3-ubyte").write_bytes(idx_bytes((8, 3), (60_000_000, 28, 28), bytes(1000)))
    add("raw IDX declaring 47 GB", train, idx_raw)
    commas = tmp / "commas.csv"
    commas.write_bytes(b"," * 1_000_000)
    add("CSV of a million commas", train, commas)
    wide = tmp / "wide.csv"
    wide.write_bytes(("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n").encode()
                     + b"0," * 30_000 + b"\n")
    add("CSV row of 30,000 fields", train, wide)
    good = model_file(tmp / "good.npz")
    model_bomb = zip_bomb_member(tmp / "model-bomb.npz", "junk.npy", npy((2**30,), "|u1", b""), 2**30,
                                 members_of(good))
    add("model file with an unused 1 GiB entry", ["evaluate", str(model_bomb), "--json"], model_bomb, {0, 2})
    weights_bomb = zip_bomb_member(
        tmp / "weights-bomb.npz", "weights/layers.0.weight.npy", npy((2**28, 1), "<f4", b""), 2**30,
        {k: v for k, v in members_of(good).items() if "weight" not in k})
    add("model file whose weights inflate to 1 GiB", ["evaluate", str(weights_bomb)], weights_bomb)
    deep = replace_members(good, tmp / "deep.npz", config=text_npy("[" * 100_000 + "]" * 100_000))
    add("model config 100,000 levels deep", ["evaluate", str(deep)], deep)
    cfg_digits = tmp / "digits.yaml"
    cfg_digits.write_text(CONFIG.replace("epochs: 1", "epochs: " + "9" * 900_000))
    add("config with a 900,000-digit integer", ["validate", str(cfg_digits)], cfg_digits)
    return cases


def run_child(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO)), *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> tuple[int, int, list[str]]:
    out, err = process.communicate(timeout=300)
    lines = err.splitlines()
    result = [line for line in lines if line.startswith("RESULT ")]
    assert result, err
    _, code, peak = result[-1].split()
    return int(code), int(peak) * 1024, [line for line in lines if not line.startswith("RESULT ")]


def test_hostile_files_stay_within_100_mb_of_baseline(tmp_path: Path) -> None:
    cases = hostile_cases(tmp_path)
    baseline = finish(run_child([], tmp_path))[1]
    children = {name: run_child(argv, tmp_path) for name, (argv, _, _) in cases.items()}
    report = []
    failures = []
    for name, process in children.items():
        argv, path, codes = cases[name]
        code, peak, stderr = finish(process)
        size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())
        report.append(f"{name}: {size / 2**20:.2f} MB file, peak +{(peak - baseline) / 2**20:.1f} MB, exit {code}")
        if path.is_file():
            assert size <= 2**20 + 2**16, (name, size)
        if peak - baseline > LIMIT:
            failures.append(f"{name}: peak RSS {peak / 2**20:.0f} MB, baseline {baseline / 2**20:.0f} MB")
        if code not in codes or (code == 2 and (len(stderr) != 1 or not stderr[0].startswith("layernet: error: "))):
            failures.append(f"{name}: exit {code}, stderr {stderr}")
    print("\n".join(report))
    assert not failures, failures
