"""The epoch-time benchmark in a small form, and the hot-path properties its numbers rest on.

The smoke test runs ``benchmarks/epoch_time.py`` on 2,000 rows (full MNIST if
present, else the embedded sample) without PyTorch, so CI exercises the
script in a few seconds. The other tests pin down what the optimised hot
paths must keep: no parameter-sized temporaries in an optimiser step, the
integer-label cross-entropy equal to the one-hot form, batches converted
without touching the stored data, and forward outputs a caller may keep.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.data import Dataset
from layernet.losses import one_hot
from layernet.optimizers import get_optimizer

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "epoch_time.py"
#: The variables ``--threads`` sets (benchmarks/epoch_time.py THREAD_VARIABLES).
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _benchmark_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("epoch_time", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the benchmark script -------------------------------------------------------------------------

def test_small_benchmark_prints_a_markdown_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "times.json"
    batches = [50, 64]
    # A child process (the script pins the BLAS threads before numpy loads) importing this
    # checkout's layernet; no thread variable is inherited, so --threads alone must set them.
    env = {name: value for name, value in os.environ.items() if name not in THREAD_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "2000", "--repeat", "1", "--threads", "1",
         "--batch-sizes", *map(str, batches), "--networks", "784-10-10",
         "--implementations", "layernet", "numpy", "--json", str(out)],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 784-10-10 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["50", "64"]
    assert all(row.count("|") == 7 and row.rstrip().endswith("| n/a |") for row in rows)
    report = json.loads(out.read_text())
    assert report["environment"]["thread_variables"]["OPENBLAS_NUM_THREADS"] == "1"
    for row, batch in zip(report["results"], batches, strict=True):
        assert row["batch_size"] == batch and row["rows"] == 2000
        assert row["steps"] == math.ceil(2000 / batch)
        for clock in ("wall", "cpu"):
            assert set(row["seconds"][clock]) == {"layernet", "numpy"}
            assert all(len(times) == 1 and times[0] > 0 for times in row["seconds"][clock].values())
        assert row["median"]["torch"] is None and row["ratio_to_torch"] is None


def test_every_layernet_epoch_trains_all_batches() -> None:
    """A second ``run()`` must train a full epoch again (``fit`` continues from ``trainer.epoch``)."""
    bench = _benchmark_module()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (100, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 100)
    run = bench.layernet_epoch(x, y, [10], 32, None)
    assert [run(), run()] == [4, 4]


def test_time_epochs_rejects_an_epoch_with_the_wrong_step_count() -> None:
    bench = _benchmark_module()
    with pytest.raises(RuntimeError, match="lazy took 0 steps in an epoch, expected 3"):
        bench.time_epochs({"lazy": lambda: 0}, 1, 3)


# -- hot-path properties --------------------------------------------------------------------------

def _model(dtype: Any = np.float32) -> ln.Sequential:
    return ln.Sequential([ln.Dense(256), ln.ReLU(), ln.Dense(10), ln.Softmax()],
                         input_shape=(784,), seed=0, dtype=dtype)


@pytest.mark.parametrize("spec", [{"type": "Adam"}, {"type": "Adam", "weight_decay": 0.1},
                                  {"type": "AdamW"}, {"type": "SGD", "lr": 0.1}])
def test_optimizer_steps_allocate_no_parameter_sized_temporaries(spec: dict[str, Any]) -> None:
    model = _model()
    optimizer = get_optimizer(spec, model.parameters())
    for p in model.parameters():
        p.grad[...] = 0.01
    optimizer.step()  # creates the state and the scratch buffers
    parameter_bytes = sum(p.value.nbytes for p in model.parameters())
    tracemalloc.start()
    try:
        optimizer.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < parameter_bytes / 20


def test_integer_labels_give_the_one_hot_loss_and_the_same_gradient() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 784)).astype(np.float32)
    labels = rng.integers(0, 10, 32)
    outputs = _model().forward(x)
    by_label, by_one_hot = ln.CrossEntropy(), ln.CrossEntropy()
    assert by_label(outputs, labels) == pytest.approx(by_one_hot(outputs, one_hot(labels, 10)), rel=1e-6)
    np.testing.assert_array_equal(by_label.backward(), by_one_hot.backward())
    logits = rng.standard_normal((32, 10))
    assert ln.CrossEntropy(from_logits=True)(logits, labels) == pytest.approx(
        ln.CrossEntropy(from_logits=True)(logits, one_hot(labels, 10, np.float64)), rel=1e-12)


@pytest.mark.parametrize("index", [slice(None), slice(2, 5), np.array([4, 0, 2])])
def test_batches_are_converted_without_touching_the_stored_rows(index: Any) -> None:
    stored = np.arange(24, dtype=np.float32).reshape(6, 4)
    before = stored.copy()
    data = Dataset(stored, None, scale=0.5, shift=1.0)
    np.testing.assert_array_equal(data.batch(index), (before[index] - 1) * np.float32(0.5))
    data.batch(index)
    np.testing.assert_array_equal(stored, before)


def test_uint8_batches_equal_the_convert_then_scale_formula() -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (10, 784), dtype=np.uint8)
    order = np.array([3, 9, 0])
    batch = Dataset(pixels, None, scale=1 / 255).batch(order)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, pixels[order].astype(np.float32) * np.float32(1 / 255))


def test_forward_outputs_stay_valid_after_the_next_forward() -> None:
    model = _model()
    rng = np.random.default_rng(3)
    first_input, second_input = rng.random((8, 784)), rng.random((8, 784))
    first = model.forward(first_input, training=True)
    kept = np.array(first)
    model.forward(second_input, training=True)
    np.testing.assert_array_equal(first, kept)
