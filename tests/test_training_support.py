"""Shared helpers for the training, io and checkpoint tests: synthetic data and small models.

Imported by ``test_training.py``, ``test_io.py`` and ``test_checkpoint.py``;
the tests here check that the synthetic data is what those tests assume.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import layernet as ln
from layernet.data.dataset import Dataset
from layernet.optimizers import Optimizer
from layernet.training import Callback, Trainer, TrainSettings

FEATURES, CLASSES = 16, 3


def blobs(n: int = 600, seed: int = 0, name: str = "blobs") -> Dataset:
    """``n`` uint8 rows ``(n, 16)`` around one random centre per class (3 classes), scaled by 1/255."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(1234).integers(40, 215, (CLASSES, FEATURES))
    y = rng.integers(0, CLASSES, n)
    x = np.clip(centres[y] + rng.normal(0, 12, (n, FEATURES)), 0, 255).astype(np.uint8)
    return Dataset(x, y, scale=1 / 255, name=name)


def small_model(hidden: int = 8, *, dropout: float = 0.0, seed: int = 3,
                dtype: Any = np.float32) -> ln.Sequential:
    """A built ``16-hidden-3`` classifier, with a Dropout layer when ``dropout`` > 0."""
    layers: list[ln.Layer] = [ln.Dense(hidden), ln.ReLU()]
    if dropout:
        layers.append(ln.Dropout(dropout))
    layers += [ln.Dense(CLASSES), ln.Softmax()]
    return ln.Sequential(layers, input_shape=(FEATURES,), seed=seed, dtype=dtype)


def make_trainer(model: ln.Sequential | None = None, optimizer: str = "Adam", lr: float = 0.01,
                 **settings: Any) -> Trainer:
    """A Trainer on ``model`` (default :func:`small_model`) with CrossEntropy and ``optimizer``."""
    model = model or small_model()
    opt: Optimizer = {"Adam": ln.Adam, "SGD": ln.SGD}[optimizer](model.parameters(), lr=lr)
    callbacks: list[Callback] = settings.pop("callbacks", [])
    schedule = settings.pop("schedule", None)
    return Trainer(model, ln.CrossEntropy(), opt, schedule=schedule,
                   settings=TrainSettings(**settings), callbacks=callbacks)


class Scripted(Callback):
    """Writes ``values[epoch - 1]`` into each history row as ``column`` (callbacks after it see it)."""

    def __init__(self, column: str, values: list[float]) -> None:
        self.column, self.values = column, values

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        logs[self.column] = self.values[epoch - 1]


def without_seconds(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """History rows without the timing column (the only one allowed to differ between runs)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_blobs_are_deterministic_compact_and_labelled() -> None:
    a, b = blobs(seed=5), blobs(seed=5)
    assert a.x.dtype == np.uint8 and a.x.shape == (600, FEATURES)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert a.y is not None and set(np.unique(a.y)) == set(range(CLASSES))
    assert not np.array_equal(a.x, blobs(seed=6).x)
