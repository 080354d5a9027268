"""IDX reader/writer and MNIST-format directories: good files, bad files, real MNIST."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from layernet import DataError
from layernet.data import load_mnist_dir, read_idx, write_idx
from layernet.data.download import MNIST_MD5
from layernet.data.mnist_format import MNIST_FILES

RNG = np.random.default_rng(0)


def images(n: int) -> np.ndarray:
    return RNG.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def labels(n: int) -> np.ndarray:
    return RNG.integers(0, 10, size=n, dtype=np.uint8)


def make_dir(root: Path, n_train: int = 6, n_test: int = 4, *, gz: bool = True) -> Path:
    """An MNIST-format directory of random digits."""
    suffix = ".gz" if gz else ""
    for stem, array in zip(MNIST_FILES, (images(n_train), labels(n_train), images(n_test),
                                         labels(n_test)), strict=True):
        write_idx(root / f"{stem}{suffix}", array)
    return root


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip_every_type(tmp_path: Path, dtype: str, name: str) -> None:
    array = (RNG.standard_normal((3, 4, 5)) * 50).astype(dtype)
    back = read_idx(write_idx(tmp_path / name, array))
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_compression_is_detected_from_content_not_name(tmp_path: Path) -> None:
    array = images(3)
    write_idx(tmp_path / "gz-named-raw.gz", array, compress=False)
    write_idx(tmp_path / "raw-named-gz", array, compress=True)
    assert (tmp_path / "raw-named-gz").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(tmp_path / "gz-named-raw.gz"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-named-gz"), array)


def test_mnist_header_layout(tmp_path: Path) -> None:
    raw = (write_idx(tmp_path / "x", images(2))).read_bytes()
    assert raw[:16] == bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")
    assert len(raw) == 16 + 2 * 28 * 28


def test_gzip_output_is_reproducible(tmp_path: Path) -> None:
    array = images(5)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    second = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first == second


def _mnist_bytes(n: int = 3) -> bytes:
    return bytes.fromhex("00000803") + b"".join(
        v.to_bytes(4, "big") for v in (n, 28, 28)) + bytes(n * 784)


BAD_FILES = {
    "truncated data": (_mnist_bytes()[:1000],
                       ["truncated: header says 3×28×28 = 2352 bytes of data, file has 984"]),
    "trailing data": (_mnist_bytes() + b"extra", ["trailing data", "5 more"]),
    "truncated header": (_mnist_bytes()[:10], ["truncated header", "12 bytes", "file has 6"]),
    "empty": (b"", ["not an IDX file", "only 0 bytes"]),
    "wrong magic": (b"\x12\x34" + _mnist_bytes()[2:], ["not an IDX file", "0x12340803"]),
    "unknown type": (bytes.fromhex("00000a01") + bytes(8), ["not an IDX file", "0x00000a01"]),
    "zero dimensions": (bytes.fromhex("00000800"), ["0 dimensions"]),
    "text file": (b"label,pixel0\n1,2\n", ["not an IDX file"]),
    "absurd sizes": (bytes.fromhex("00000803" + "ffffffff" * 3), ["too large to load"]),
}


@pytest.mark.parametrize("compressed", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_data_errors_naming_file_and_problem(
        tmp_path: Path, case: str, compressed: bool) -> None:
    content, expected = BAD_FILES[case]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(content) if compressed else content)
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_truncated_and_corrupt_gzip_streams(tmp_path: Path) -> None:
    packed = gzip.compress(_mnist_bytes(50))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    broken = bytearray(packed)
    broken[len(broken) // 2] ^= 0xFF
    (tmp_path / "flipped.gz").write_bytes(bytes(broken))
    for name in ("cut.gz", "flipped.gz"):
        with pytest.raises(DataError, match=f"{name}: (corrupt|truncated)"):
            read_idx(tmp_path / name)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.gz: no such file"):
        read_idx(tmp_path / "nope.gz")


def test_write_refuses_unsupported_dtype(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot store dtype int64"):
        write_idx(tmp_path / "a", np.zeros(3, dtype=np.int64))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_dir_loads_both_splits(tmp_path: Path, gz: bool) -> None:
    splits = load_mnist_dir(make_dir(tmp_path, 6, 4, gz=gz))
    assert splits.test is not None
    assert splits.train.x.shape == (6, 28, 28) and splits.train.x.dtype == np.uint8
    assert splits.train.y is not None and splits.train.y.dtype == np.int64
    assert splits.test.x.shape == (4, 28, 28) and splits.test.y is not None
    np.testing.assert_array_equal(splits.train.x, read_idx(next(tmp_path.glob("train-images*"))))


def test_mnist_dir_without_t10k_has_no_test_split(tmp_path: Path) -> None:
    make_dir(tmp_path)
    for path in tmp_path.glob("t10k-*"):
        path.unlink()
    assert load_mnist_dir(tmp_path).test is None


def test_mnist_dir_accepts_dotted_names(tmp_path: Path) -> None:
    make_dir(tmp_path, gz=False)
    for path in list(tmp_path.iterdir()):
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    assert len(load_mnist_dir(tmp_path).train) == 6


@pytest.mark.parametrize(("remove", "expected"), [
    ("train-labels-idx1-ubyte.gz", "missing train-labels-idx1-ubyte[.gz]"),
    ("t10k-images-idx3-ubyte.gz", "missing t10k-images-idx3-ubyte[.gz]"),
])
def test_mnist_dir_missing_file(tmp_path: Path, remove: str, expected: str) -> None:
    make_dir(tmp_path)
    (tmp_path / remove).unlink()
    with pytest.raises(DataError, match=re.escape(f"{tmp_path}: {expected}")):
        load_mnist_dir(tmp_path)


def test_mnist_dir_count_mismatch(tmp_path: Path) -> None:
    make_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels(5))
    with pytest.raises(DataError, match="holds 6 images but train-labels-idx1-ubyte.gz holds 5"):
        load_mnist_dir(tmp_path)


def test_mnist_dir_swapped_files(tmp_path: Path) -> None:
    make_dir(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", labels(6))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: expected uint8 images.*"
                                        r"found magic 0x00000801"):
        load_mnist_dir(tmp_path)


def test_mnist_dir_wrong_dtype(tmp_path: Path) -> None:
    make_dir(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images(4).astype(np.float32))
    with pytest.raises(DataError, match="found magic 0x00000D03"):
        load_mnist_dir(tmp_path)


def test_mnist_dir_split_shapes_must_match(tmp_path: Path) -> None:
    make_dir(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((4, 20, 20), np.uint8))
    with pytest.raises(DataError, match=r"test images are \(20, 20\)"):
        load_mnist_dir(tmp_path)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such directory"):
        load_mnist_dir(tmp_path / "absent")


def test_real_mnist_shapes_and_md5(mnist_dir: Path) -> None:
    splits = load_mnist_dir(mnist_dir)
    assert splits.test is not None and splits.train.y is not None and splits.test.y is not None
    assert splits.train.x.shape == (60000, 28, 28) and splits.test.x.shape == (10000, 28, 28)
    assert sorted(np.unique(splits.train.y)) == list(range(10))
    parts = {"train-images": splits.train.x, "train-labels": splits.train.y.astype(np.uint8),
             "t10k-images": splits.test.x, "t10k-labels": splits.test.y.astype(np.uint8)}
    for name, md5 in MNIST_MD5.items():
        array = parts[name.rsplit("-", 2)[0]]
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            s.to_bytes(4, "big") for s in array.shape)
        assert hashlib.md5(header + array.tobytes()).hexdigest() == md5, name
