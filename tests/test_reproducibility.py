"""Reproducibility as docs/results.md states it: the same seed, machine, thread count and BLAS
give the same bits — weights, history (all but the ``seconds`` column) and test figures.

Runs on the embedded sample, through the command line and through ``ln.fit``. A run with
another seed must differ, so the comparison cannot pass by comparing untrained weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from conftest import ADAM_CONFIG, RunCli

import layernet as ln
from layernet.archive import NpzReader

Arrays = dict[str, npt.NDArray[np.generic]]


def stored_arrays(path: Path) -> Arrays:
    """Every entry of a layernet ``.npz`` file (weights, config, versions)."""
    with NpzReader(path) as archive:
        return {key: archive.read(key) for key in archive.entries}


def same_arrays(a: Arrays, b: Arrays) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a)


def outcome(run: Path) -> tuple[Arrays, list[dict[str, float]], dict[str, object]]:
    """A run's model file (every entry), its history without ``seconds`` and its test figures."""
    history = [{k: v for k, v in row.items() if k != "seconds"}
               for row in ln.History.from_csv(run / "history.csv")]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    figures = {key: metrics[key] for key in ("test_loss", "test_accuracy", "epochs", "threads")}
    return stored_arrays(run / "model.npz"), history, figures


def test_the_same_command_twice_gives_the_same_bits(run_cli: RunCli, tmp_path: Path, trained_run: Path) -> None:
    """``trained_run`` is ``layernet train ADAM_CONFIG --epochs 2`` with the default policy's one
    BLAS thread (and plots, which do not touch the numbers); train it again here."""
    again = run_cli("train", ADAM_CONFIG, "--epochs", "2", "--threads", "1", "--out", "again",
                    "--no-plots", "--quiet")
    assert again.returncode == 0, again.stderr
    first, second = outcome(trained_run), outcome(tmp_path / "again")
    assert first[2]["threads"] == 1
    assert same_arrays(first[0], second[0])
    assert first[1] == second[1] and first[2] == second[2]
    initial = ln.load_run_config(ADAM_CONFIG).build_model().get_weights()
    assert not same_arrays({f"weights/{k}": v for k, v in initial.items()},
                           {k: v for k, v in first[0].items() if k.startswith("weights/")})


@pytest.fixture(scope="module")
def digits() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    train = ln.load_sample().train
    return train.x[:2000], train.y[:2000]


def fitted(digits: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]], seed: int) -> tuple[Arrays, list[dict[str, float]]]:
    """Two epochs of a small MLP with dropout, a validation split and shuffling, one BLAS thread."""
    model = ln.Sequential([ln.Flatten(), ln.Dense(32), ln.ReLU(), ln.Dropout(0.2), ln.Dense(10), ln.Softmax()],
                          input_shape=(28, 28), seed=seed)
    history = ln.fit(model, *digits, epochs=2, batch_size=64, validation_split=0.1, verbose=0, threads=1)
    return dict(model.get_weights()), [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_fit_twice_with_the_same_seed_and_threads_gives_the_same_bits(digits: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]) -> None:
    (weights, history), (again, history_again) = fitted(digits, 0), fitted(digits, 0)
    assert same_arrays(weights, again) and history == history_again
    other, other_history = fitted(digits, 1)
    assert not same_arrays(weights, other) and history != other_history
