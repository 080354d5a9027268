"""The embedded MNIST sample: sizes, md5s, attribution, and that its rows are real MNIST rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layernet.data import SAMPLE_DIR, load_mnist_dir, load_sample
from layernet.data._files import uncompressed_md5

#: md5 of each sample file's uncompressed content (printed by scripts/make_sample.py).
SAMPLE_MD5 = {
    "train-images-idx3-ubyte.gz": "63a563d3843dba5073e604e3a7990e87",
    "train-labels-idx1-ubyte.gz": "e6ef65212ddc6f9010e22d95b5269050",
    "t10k-images-idx3-ubyte.gz": "014beca301477cb2e974ccd9bba2262c",
    "t10k-labels-idx1-ubyte.gz": "a82723c4f1ffcf0f0a0d4d06f6c879a0",
}


def test_sample_files_md5_and_size() -> None:
    total = 0
    for name, md5 in SAMPLE_MD5.items():
        path = SAMPLE_DIR / name
        assert uncompressed_md5(path) == md5, name
        total += path.stat().st_size
    assert total <= 3_000_000


def test_sample_loads_without_network() -> None:
    splits = load_sample()
    assert splits.test is not None and splits.train.y is not None and splits.test.y is not None
    assert splits.train.x.shape == (10_000, 28, 28) and splits.train.x.dtype == np.uint8
    assert splits.test.x.shape == (2_000, 28, 28) and splits.test.y.shape == (2_000,)
    assert np.bincount(splits.train.y).min() > 800, "every digit is well represented"
    assert splits.train.name == "MNIST sample (train)"


def test_sample_rows_are_the_first_mnist_rows(mnist_dir: Path) -> None:
    sample, full = load_sample(), load_mnist_dir(mnist_dir)
    assert sample.test is not None and full.test is not None
    np.testing.assert_array_equal(sample.train.x, full.train.x[:10_000])
    np.testing.assert_array_equal(sample.train.y, full.train.y[:10_000])  # type: ignore[index]
    np.testing.assert_array_equal(sample.test.x, full.test.x[:2_000])
    np.testing.assert_array_equal(sample.test.y, full.test.y[:2_000])  # type: ignore[index]


def test_licence_attribution_beside_the_data() -> None:
    readme = (SAMPLE_DIR / "README.md").read_text()
    for fragment in ("Yann LeCun", "Corinna Cortes", "Christopher J.C. Burges", "CC BY-SA 3.0",
                     "scripts/make_sample.py", *SAMPLE_MD5.values()):
        assert fragment in readme
