"""Smoke runs of ``benchmarks/speed.py``: tiny data, one epoch, the JSON report has every field.

No timing is asserted (a shared CI machine makes any wall-clock bound flaky); only
that the benchmark runs end to end and reports everything it promises. The
synthetic run always runs; the MNIST run skips when the files are absent.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "speed.py"
MNIST = Path(os.environ.get("LAYERNET_MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist")
ROWS = 300



def run_benchmark(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "speed.json"
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "A,E,S", "--epochs", "1", "--warmup", "0",
         "--limit", str(ROWS), "--steps", "3", "--repeats", "1", "--no-torch", "--threads", "1",
         "--json", str(out), *extra],
        capture_output=True, text=True, timeout=300, check=False, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "| case | network | batch | layernet |" in result.stdout
    assert "| target | case | bound | measured (wall / CPU) | met (wall / CPU) |" in result.stdout
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def check_report(report: dict[str, Any]) -> None:
    machine = report["machine"]
    assert {"cpu", "cores", "python", "numpy", "layernet", "threads", "env", "threadpools",
            "load_average_before"} <= set(machine)
    assert machine["threads"] == 1
    blas = [pool for pool in machine["threadpools"] if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)
    assert {"internal_api", "version", "architecture"} <= set(blas[0])
    cases = {case["case"]: case for case in report["cases"]}
    assert set(cases) == {"A", "E", "S"}
    for name in ("A", "E"):
        case = cases[name]
        assert case["rows"] == ROWS and case["steps"] == math.ceil(ROWS / case["batch"])
        assert set(case["seconds"]) == {"layernet", "numpy", "gemm"}
        for contender in case["seconds"].values():
            assert len(contender["wall"]) == len(contender["cpu"]) == 1
        assert set(case["median"]["layernet"]) == {"wall", "cpu"}
        assert case["ratio"]["torch"] is None
        assert set(case["ratio"]["numpy"]) == set(case["ratio"]["gemm"]) == {"wall", "cpu"}
        inference = case["inference"]
        assert set(inference["images_per_s"]) == {"layernet", "numpy"}
        assert all(0 <= a <= 1 for a in inference["test_accuracy_after_training"].values())
    seeds = cases["S"]
    assert seeds["steps"] == 3 and set(seeds["median"]) == {"layernet", "seeds", "gemm"}
    assert set(seeds["test_accuracy"]) == {"layernet", "seeds"}
    assert {"seeds", "gemm"} == set(seeds["ratio"]) and "accuracy_difference_points" in seeds
    assert set(report["rss"]) == {"E"}
    assert {"peak_mb", "after_imports_mb", "after_data_mb"} <= set(report["rss"]["E"])
    assert report["rss"]["E"]["torch_imported"] is False
    assert {"import_layernet_s", "help_s", "bare_python_s"} <= set(report["startup"])
    targets = {(t["target"], t["case"]) for t in report["targets"]}
    assert ("layernet/PyTorch", "E") in targets and ("peak RSS MB", "B") in targets
    assert all({"bound", "value", "met"} <= set(t) for t in report["targets"])


@pytest.mark.process
@pytest.mark.slow  # a real-process run; CI runs it, the quick suite does not
def test_synthetic_smoke_run_reports_every_field_in_both_environments(tmp_path: Path) -> None:
    report = run_benchmark(tmp_path, "--synthetic", "--both-envs")
    assert report["source"] == "synthetic"
    check_report(report)
    unset = report["unset_env"]
    check_report(unset)
    assert unset["machine"]["env"]["OPENBLAS_CORETYPE"] is None
    assert unset["machine"]["env"]["OPENBLAS_L2_SIZE"] is None


@pytest.mark.process
@pytest.mark.slow  # a real-process run on real MNIST; CI runs it, the quick suite does not
def test_mnist_smoke_run_reports_every_field(tmp_path: Path) -> None:
    if not (MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST}")
    report = run_benchmark(tmp_path, "--mnist-dir", str(MNIST))
    check_report(report)
    assert "unset_env" not in report


def _speed_module() -> Any:
    """``benchmarks/speed.py`` imported as a module (registered first, for its dataclasses)."""
    if "speed_benchmark" not in sys.modules:
        spec = importlib.util.spec_from_file_location("speed_benchmark", SCRIPT)
        assert spec is not None and spec.loader is not None
        sys.modules["speed_benchmark"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["speed_benchmark"])
    return sys.modules["speed_benchmark"]


def test_every_layernet_epoch_trains_all_batches() -> None:
    """A second ``epoch()`` must train a full epoch again (``fit`` continues from ``trainer.epoch``)."""
    speed = _speed_module()
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (100, 784), dtype=np.uint8), rng.integers(0, 10, 100)
    contender = speed.LayernetContender(speed.Case("T", "784-10-10", (10,), 32), x, y)
    assert [contender.epoch(), contender.epoch()] == [4, 4]


def test_time_interleaved_rejects_an_epoch_with_the_wrong_step_count() -> None:
    speed = _speed_module()
    with pytest.raises(RuntimeError, match="lazy took 0 steps in an epoch, expected 3"):
        speed.time_interleaved({"lazy": lambda: 0}, 0, 1, 3)
