"""npz archives: x/y (+ x_test/y_test), refusing pickles and malformed arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layernet import DataError
from layernet.data import load_npz

RNG = np.random.default_rng(2)
X = RNG.integers(0, 256, size=(8, 28, 28), dtype=np.uint8)
Y = RNG.integers(0, 10, size=8)


def save(path: Path, **arrays: Any) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def test_train_only(tmp_path: Path) -> None:
    splits = load_npz(save(tmp_path / "d.npz", x=X, y=Y.astype(np.uint8)))
    assert splits.test is None
    np.testing.assert_array_equal(splits.train.x, X)
    assert splits.train.y is not None and splits.train.y.dtype == np.int64
    np.testing.assert_array_equal(splits.train.y, Y)


def test_with_test_split_and_float_features(tmp_path: Path) -> None:
    x = RNG.standard_normal((8, 5)).astype(np.float32)
    splits = load_npz(save(tmp_path / "d.npz", x=x, y=Y, x_test=x[:3], y_test=Y[:3]))
    assert splits.test is not None and splits.test.x.shape == (3, 5)
    assert splits.train.x.dtype == np.float32


def test_labels_optional_for_prediction(tmp_path: Path) -> None:
    splits = load_npz(save(tmp_path / "d.npz", x=X), require_labels=False)
    assert splits.train.y is None and len(splits.train) == 8


BAD_NPZ: dict[str, tuple[dict[str, Any], str]] = {
    "missing x": ({"images": X, "y": Y}, "no array 'x' (found: images, y)"),
    "missing y": ({"x": X}, "no array 'y'"),
    "pickled object array": ({"x": np.array([X[0], "a"], dtype=object), "y": Y[:2]},
                             "array 'x' holds pickled Python objects"),
    "string x": ({"x": np.array([["a", "b"]]), "y": Y[:1]}, "'x' must be a numeric array"),
    "1-D x": ({"x": X.reshape(-1), "y": Y}, "at least 2 dimensions"),
    "float labels": ({"x": X, "y": Y.astype(np.float32)}, "'y' must be 1-D integer labels"),
    "2-D labels": ({"x": X, "y": Y.reshape(4, 2)}, "'y' must be 1-D integer labels"),
    "length mismatch": ({"x": X, "y": Y[:7]}, "'x' has 8 samples but 'y' has 7 labels"),
    "negative label": ({"x": X, "y": Y - 20}, "negative label"),
    "nan": ({"x": np.full((2, 3), np.nan), "y": Y[:2]}, "NaN or infinite"),
    "x_test alone": ({"x": X, "y": Y, "x_test": X}, "'x_test' and 'y_test' go together"),
    "test shape": ({"x": X, "y": Y, "x_test": X[:, :5], "y_test": Y},
                   r"'x_test' samples are (5, 28)"),
    "test lengths": ({"x": X, "y": Y, "x_test": X, "y_test": Y[:2]},
                     "'x_test' has 8 samples but 'y_test' has 2"),
}


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_bad_archives_name_file_and_key(tmp_path: Path, case: str) -> None:
    arrays, expected = BAD_NPZ[case]
    path = save(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError) as info:
        load_npz(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


@pytest.mark.parametrize(("content", "expected"), [
    (b"not a zip", "not a readable .npz archive"),
    (None, "a single .npy array"),
])
def test_not_an_archive(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "d.npz"
    if content is None:
        with open(path, "wb") as handle:
            np.save(handle, X)
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        load_npz(path)


def test_truncated_archive(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=X, y=Y)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="d.npz"):
        load_npz(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="absent.npz: no such file"):
        load_npz(tmp_path / "absent.npz")
