"""Bounded memory: a hostile file of at most 1 MB never raises peak RSS by more than 100 MB.

Each case runs ``layernet`` in a fresh child process (so the peak is its own) that
reports ``ru_maxrss`` at exit (started through a shell, see :func:`run_child`); the
baseline is a child that only imports layernet.
The children run concurrently to keep the suite quick.

Two families: readers (a file declaring or inflating to more data than it holds) and
models (a small file or config declaring a huge model, refused before it is built; and
honest files holding as many genuine weights as a 1 MB file may declare, which load).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_hostile_support import (CONFIG, array_npy, checkpoint_file, declaring, gzip_zeros, idx_bytes,
                                  lying_member, members_of, mnist_dir, model_file, npy, replace_members,
                                  stack_config, text_npy, write_zip, zero_weights_file, zip_bomb_member)

REPO = Path(__file__).resolve().parent.parent
LIMIT = 100 * 2**20
#: Runs ``layernet.cli.main(argv)`` and prints the exit code and peak RSS (KiB on Linux).
CHILD = """
import resource, sys
sys.path.insert(0, {repo!r})
import layernet
code = 0
if sys.argv[1:2] == ["--hold-mb"]:  # the control: a peak the measurement must see
    held = bytearray(int(sys.argv[2]) * 2**20)
elif sys.argv[1:]:
    from layernet.cli import main
    code = main(sys.argv[1:])
print("RESULT", code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""

pytestmark = [pytest.mark.process, pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")]


Cases = dict[str, tuple[list[str], Path, set[int], dict[str, str]]]


def hostile_cases(tmp: Path) -> Cases:
    """Name -> (argv, the hostile file, accepted exit codes, extra environment)."""
    config = tmp / "cfg.yaml"
    config.write_text(CONFIG)
    train = ["train", str(config), "--out", str(tmp / "run"), "--quiet", "--no-plots", "--data"]
    y = array_npy(np.zeros(12, np.int64))
    cases: Cases = {}

    def add(name: str, argv: list[str], path: Path, codes: set[int] = frozenset({2}),  # type: ignore[assignment]
            env: dict[str, str] | None = None) -> None:
        cases[name] = (argv + [str(path)] if argv and argv[-1] == "--data" else argv, path, set(codes), env or {})

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
    cases.update(huge_model_cases(tmp, good))
    return cases


DENSE_300K = stack_config([{"type": "Dense", "units": 300_000}, {"type": "Softmax"}])
#: Far beyond the memory of any machine this runs on (784 x 10**8 float32 = 292 GiB).
DENSE_HUGE = CONFIG.replace("units: 10", "units: 100000000")


def huge_model_cases(tmp: Path, good: Path) -> Cases:
    """Small files and configs declaring models of hundreds of MB or more (refused before they
    are built), and honest 1 MB files holding as many genuine zero weights as they may declare."""
    conv = stack_config([{"type": "Conv2D", "filters": 4096, "kernel_size": 3},
                         {"type": "Conv2D", "filters": 4096, "kernel_size": 3},
                         {"type": "Flatten"}, {"type": "Dense", "units": 10}], (1, 28, 28))
    deep = stack_config([{"type": "Dense", "units": 1000}] * 2000 + [{"type": "Dense", "units": 10}])
    dense = declaring(good, tmp / "dense-300k.npz", DENSE_300K)
    checkpoint = declaring(checkpoint_file(tmp / "good-checkpoint.npz"), tmp / "checkpoint-300k.npz",
                           DENSE_300K, "config/model")
    run = tmp / "hostile-run"
    run.mkdir()
    (run / "config.yaml").write_text(CONFIG)
    declaring(good, run / "model.npz", DENSE_300K)
    resumed = tmp / "hostile-resume"
    (resumed / "checkpoints").mkdir(parents=True)
    (resumed / "config.yaml").write_text(DENSE_HUGE)
    checkpoint_file(resumed / "checkpoints" / "last.npz")
    huge_yaml, large_yaml = tmp / "huge.yaml", tmp / "large.yaml"
    huge_yaml.write_text(DENSE_HUGE)
    large_yaml.write_text(CONFIG.replace("units: 10", "units: 750000"))  # 2.2 GiB of float32 weights
    honest = zero_weights_file(tmp / "honest-model.npz", "model", 11_000)
    honest_checkpoint = zero_weights_file(tmp / "honest-checkpoint.npz", "checkpoint", 3_800)
    return {
        "model file declaring Dense(300,000) (897 MiB)": (["evaluate", str(dense)], dense, {2}, {}),
        "model file declaring two Conv2D(4096) (604 MiB)": (
            ["summary", str(declaring(good, tmp / "conv.npz", conv))], tmp / "conv.npz", {2}, {}),
        "model file declaring 2,000 Dense(1000) (7.5 GiB)": (
            ["predict", str(declaring(good, tmp / "deep.npz", deep)), "sample", "--out", str(tmp / "p.csv")],
            tmp / "deep.npz", {2}, {}),
        "ONNX export of a model file declaring 897 MiB": (
            ["export", str(dense), "--onnx", str(tmp / "m.onnx")], dense, {2}, {}),
        "checkpoint declaring Dense(300,000)": (["summary", str(checkpoint)], checkpoint, {2}, {}),
        "run directory whose model declares 897 MiB": (["evaluate", str(run)], run, {2}, {}),
        "resumed run whose config declares 292 GiB": (["train", "--resume", str(resumed), "--quiet",
                                                        "--no-plots"], resumed, {2}, {}),
        "config declaring 292 GiB": (["train", str(huge_yaml), "--out", str(tmp / "r1"), "--quiet"],
                                     huge_yaml, {2}, {}),
        "config declaring 2.2 GiB over a 1 GiB budget": (
            ["train", str(large_yaml), "--out", str(tmp / "r2"), "--quiet"], large_yaml, {2},
            {"LAYERNET_MAX_PARAMETER_BYTES": "1G"}),
        "1 MB model file of 33 MiB genuine zero weights": (["summary", str(honest)], honest, {0}, {}),
        "1 MB checkpoint of 34 MiB genuine zero weights and moments": (
            ["summary", str(honest_checkpoint)], honest_checkpoint, {0}, {}),
    }


def run_child(argv: list[str], cwd: Path, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    # LAYERNET_KERNELS=numpy: the numpy Adam, so that a run which trains measures the readers'
    # memory, not the ~100 MB that numba's LLVM (the [fast] extra) adds at the first Adam step.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {
        "LAYERNET_KERNELS": "numpy"} | (extra or {})
    # Through a shell that forks the child: Linux carries a process's ru_maxrss across exec (and a
    # child forked from pytest starts with pytest's RSS), so a child started directly would report
    # at least pytest's peak and hide anything below it.
    return subprocess.Popen(["/bin/sh", "-c", '"$0" "$@"; exit $?', sys.executable, "-c",
                             CHILD.format(repo=str(REPO)), *argv], cwd=cwd, env=env,
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
    control = run_child(["--hold-mb", "150"], tmp_path)
    children = {name: run_child(argv, tmp_path, env) for name, (argv, _, _, env) in cases.items()}
    held = finish(control)[1] - baseline
    assert held >= 140 * 2**20, f"the measurement misses a 150 MB peak (+{held / 2**20:.0f} MB)"
    report = []
    failures = []
    for name, process in children.items():
        argv, path, codes, _ = cases[name]
        code, peak, stderr = finish(process)
        size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.iterdir())
        report.append(f"{name}: {size / 2**20:.2f} MB file, peak +{(peak - baseline) / 2**20:.1f} MB, exit {code}")
        if path.is_file():
            assert size <= 2**20 + 2**16, (name, size)
        if peak - baseline > LIMIT:
            failures.append(f"{name}: peak RSS {peak / 2**20:.0f} MB, baseline {baseline / 2**20:.0f} MB")
        if code not in codes or (code == 2 and (len(stderr) != 1 or not stderr[0].startswith("layernet: error: "))):
            failures.append(f"{name}: exit {code}, stderr {stderr}")
    print(f"baseline {baseline / 2**20:.1f} MB", *report, sep="\n")
    assert not failures, failures


def test_the_parameter_budget_follows_the_address_space_limit(tmp_path: Path) -> None:
    """Under ``ulimit -v`` 2 GB the budget is a fifth of it: a 627 MB model is refused unbuilt."""
    script = ("import sys; sys.path.insert(0, {repo!r}); import layernet as ln\n"
              "try:\n    ln.Sequential([ln.Dense(200_000)], input_shape=(784,))\n"
              "except ln.ModelSizeError as error:\n    print(error)\n").format(repo=str(REPO))
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "LAYERNET_MAX_PARAMETER_BYTES")}
    result = subprocess.run(["/bin/sh", "-c", 'ulimit -v 2000000 && "$0" -c "$1"', sys.executable, script],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "the model needs at least 598.1 MiB" in result.stdout, result
    assert "more than 1/5 of the 1.9 GiB of memory this process may use" in result.stdout, result
