"""load_data / load_inputs: every source form, limit, test sources and preprocessing values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layernet import DataError
from layernet.data import (
    Dataset,
    load_data,
    load_inputs,
    normalization,
    write_idx,
    write_kaggle_csv,
)
from layernet.data.mnist_format import MNIST_FILES
from layernet.data.settings import DataSettings

RNG = np.random.default_rng(3)
X = RNG.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
Y = RNG.integers(0, 10, size=12)


@pytest.fixture
def idx_dir(tmp_path: Path) -> Path:
    """An MNIST-format directory: 12 training and 4 test digits."""
    folder = tmp_path / "digits"
    for stem, array in zip(MNIST_FILES, (X, Y.astype(np.uint8), X[:4], Y[:4].astype(np.uint8)),
                           strict=True):
        write_idx(folder / f"{stem}.gz", array)
    return folder


def test_default_is_the_embedded_sample_scaled_and_flat() -> None:
    splits = load_data(DataSettings())
    assert splits.test is not None
    assert splits.train.x.shape == (10_000, 784) and splits.train.x.dtype == np.uint8
    batch = splits.train.batch(slice(0, 100))
    assert batch.dtype == np.float32 and batch.shape == (100, 784)
    np.testing.assert_allclose(batch, splits.train.x[:100] / 255.0, rtol=1e-6)
    assert batch.max() == 1.0 and batch.min() == 0.0


def test_directory_source_keeps_images_unflattened(idx_dir: Path) -> None:
    splits = load_data(DataSettings(source=str(idx_dir), flatten=False))
    assert splits.test is not None
    assert splits.train.batch(np.arange(3)).shape == (3, 28, 28)
    assert len(splits.test) == 4


def test_csv_source_has_no_test_split(tmp_path: Path) -> None:
    path = write_kaggle_csv(tmp_path / "train.csv", X, Y)
    splits = load_data(DataSettings(source=str(path)))
    assert splits.test is None
    np.testing.assert_array_equal(splits.train.y, Y)


def test_separate_test_source(tmp_path: Path, idx_dir: Path) -> None:
    path = write_kaggle_csv(tmp_path / "train.csv", X, Y)
    splits = load_data(DataSettings(source=str(path), test=str(idx_dir)))
    assert splits.test is not None and len(splits.test) == 4, "the directory's t10k part"
    csv_test = load_data(DataSettings(source=str(idx_dir), test=str(path)))
    assert csv_test.test is not None and len(csv_test.test) == 12, "all of a CSV"


def test_npz_source(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=X, y=Y, x_test=X[:2], y_test=Y[:2])
    splits = load_data(DataSettings(source=str(tmp_path / "d.npz"), normalize="none"))
    assert splits.test is not None and len(splits.test) == 2
    np.testing.assert_array_equal(splits.train.batch(slice(None)), X.reshape(12, 784))


def test_limit_takes_the_first_rows_and_fits_statistics_on_them(idx_dir: Path) -> None:
    splits = load_data(DataSettings(source=str(idx_dir), limit=5, normalize="standardize"))
    assert len(splits.train) == 5
    np.testing.assert_array_equal(splits.train.y, Y[:5])
    assert splits.train.shift == pytest.approx(X[:5].mean())
    assert splits.train.scale == pytest.approx(1 / X[:5].std())


def test_standardize_uses_training_statistics_for_both_splits(idx_dir: Path) -> None:
    splits = load_data(DataSettings(source=str(idx_dir), normalize="standardize"))
    assert splits.test is not None
    train = splits.train.batch(slice(None), np.float64)
    assert train.mean() == pytest.approx(0.0, abs=1e-9)
    assert train.std() == pytest.approx(1.0)
    test = splits.test.batch(slice(None), np.float64)
    np.testing.assert_allclose(test, (X[:4].reshape(4, 784) - X.mean()) / X.std())


def test_standardize_refuses_constant_data() -> None:
    with pytest.raises(DataError, match="zero std"):
        normalization("standardize", Dataset(np.full((3, 4), 7, np.uint8), None, name="flat"))


def test_unknown_normalize_mode() -> None:
    with pytest.raises(DataError, match="unknown mode 'minmax'; use one of scale, standardize"):
        normalization("minmax", Dataset(np.zeros((1, 1)), None))


@pytest.mark.parametrize(("source", "expected"), [
    ("nowhere", "data source 'nowhere': no such file or directory; use 'sample', 'mnist'"),
    ("notes.txt", "data source 'notes.txt': unknown kind of file; use 'sample', 'mnist'"),
])
def test_unknown_source_lists_accepted_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             source: str, expected: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=expected):
        load_data(DataSettings(source=source))


def test_unlabelled_training_data_is_refused(tmp_path: Path) -> None:
    path = write_kaggle_csv(tmp_path / "test.csv", X)
    with pytest.raises(DataError, match="test.csv: has no labels, but training data needs them"):
        load_data(DataSettings(source=str(path)))
    with pytest.raises(DataError, match="but test data needs them"):
        load_data(DataSettings(source="sample", test=str(path)))


def test_test_source_with_other_shape_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 10)), y=np.zeros(3, np.int64))
    with pytest.raises(DataError, match=r"samples of shape \(10,\), training data \(784,\)"):
        load_data(DataSettings(test=str(tmp_path / "d.npz")))


def test_flat_test_rows_fit_flattened_images(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=X.reshape(12, 784), y=Y)
    splits = load_data(DataSettings(test=str(tmp_path / "d.npz")))
    assert splits.test is not None and splits.test.sample_shape == (784,)
    with pytest.raises(DataError, match=r"shape \(784,\), training data \(28, 28\)"):
        load_data(DataSettings(test=str(tmp_path / "d.npz"), flatten=False))


def test_inputs_from_unlabelled_csv_use_the_given_normalisation(tmp_path: Path) -> None:
    path = write_kaggle_csv(tmp_path / "test.csv", X)
    data = load_inputs(path, shift=10.0, scale=0.5)
    assert data.y is None and data.x.shape == (12, 784)
    np.testing.assert_allclose(data.batch(slice(None)), (X.reshape(12, 784) - 10.0) * 0.5)


def test_inputs_from_an_idx_images_file_and_a_directory(idx_dir: Path) -> None:
    images = load_inputs(idx_dir / "train-images-idx3-ubyte.gz", flatten=False)
    assert images.y is None and images.x.shape == (12, 28, 28)
    folder = load_inputs(idx_dir)
    assert folder.y is not None and folder.x.shape == (4, 784)


def test_inputs_from_npz_without_labels(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=X)
    data = load_inputs(tmp_path / "d.npz")
    assert data.y is None and len(data) == 12
