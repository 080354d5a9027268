"""Image-shaped models: every data source feeds a model with ``input_shape: [1, 28, 28]`` as is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import RunCli

import layernet as ln
from layernet.data import DataSettings, load_data, load_inputs, write_idx, write_kaggle_csv
from layernet.data.mnist_format import MNIST_FILES

ROWS = 60
CNN_CONFIG = """\
model:
  input_shape: [1, 28, 28]
  seed: 0
  layers:
    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same}
    - ReLU
    - {type: MaxPool2D, pool_size: 2}
    - Flatten
    - {type: Dense, units: 10}
    - Softmax
optimizer: {type: Adam, lr: 0.01}
train: {epochs: 1, batch_size: 20}
data: {source: SOURCE}
"""


def _digits() -> tuple[np.ndarray, np.ndarray]:
    sample = ln.load_sample()
    return sample.train.x[:ROWS], sample.train.y[:ROWS]


def _source(kind: str, folder: Path) -> str:
    """A labelled data source of ``kind`` holding the same 60 digits."""
    x, y = _digits()
    if kind == "sample":
        return "sample"
    if kind == "idx":
        for stem, array in zip(MNIST_FILES, (x, y.astype(np.uint8), x[:20], y[:20].astype(np.uint8))):
            write_idx(folder / f"{stem}.gz", array)
        return str(folder)
    if kind == "csv":
        return str(write_kaggle_csv(folder / "train.csv", x, y))
    path = folder / "digits.npz"
    np.savez(path, x=x.reshape(ROWS, 784), y=y)   # flat rows: reshaped all the same
    return str(path)


@pytest.mark.parametrize("kind", ["sample", "idx", "csv", "npz"])
def test_every_source_is_shaped_to_the_model_input(kind: str, tmp_path: Path) -> None:
    splits = load_data(DataSettings(source=_source(kind, tmp_path), limit=ROWS), shape=(1, 28, 28))
    assert splits.train.sample_shape == (1, 28, 28)
    x, _ = _digits()
    np.testing.assert_array_equal(splits.train.x[:5, 0], x[:5])   # the same pixels, a view
    if splits.test is not None:
        assert splits.test.sample_shape == (1, 28, 28)


@pytest.mark.parametrize("kind", ["sample", "idx", "csv", "npz"])
def test_a_cnn_config_trains_on_every_source(kind: str, tmp_path: Path, run_cli: RunCli) -> None:
    config = tmp_path / "cnn.yaml"
    config.write_text(CNN_CONFIG.replace("SOURCE", json.dumps(_source(kind, tmp_path))))
    result = run_cli("train", config, "--out", tmp_path / "run", "--no-plots")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs"] == 1
    model = ln.load_model(tmp_path / "run" / "model.npz")
    assert model.input_shape == (1, 28, 28)


def test_inputs_to_predict_are_shaped_like_the_model(tmp_path: Path) -> None:
    x, _ = _digits()
    path = write_kaggle_csv(tmp_path / "test.csv", x)
    assert load_inputs(path, shape=(1, 28, 28)).sample_shape == (1, 28, 28)
    assert load_inputs(path, shape=(784,)).sample_shape == (784,)


def test_sizes_that_cannot_match_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ln.DataError, match=r"samples of shape \[28, 28\] \(784 values\) cannot feed "
                       r"a model whose input_shape is \[3, 28, 28\] \(2352 values\)"):
        load_data(DataSettings(source="sample", limit=ROWS), shape=(3, 28, 28))
