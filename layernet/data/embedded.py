"""The MNIST sample shipped inside the package: 10,000 training and 2,000 test digits.

The files in ``layernet/data/sample/`` are the first 10,000 rows of MNIST's
training set and the first 2,000 rows of its test set, as gzip IDX files
(built by ``scripts/make_sample.py``; licence and details in the README there).
Loading them needs no network.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .dataset import DataSplits
from .mnist_format import load_mnist_dir

#: The folder holding the embedded sample's four IDX files.
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


def load_sample() -> DataSplits:
    """The embedded MNIST sample.

    Returns:
        ``DataSplits`` with ``train`` ``x`` ``(10000, 28, 28)`` uint8 and ``y``
        ``(10000,)`` int64, and ``test`` ``(2000, 28, 28)`` / ``(2000,)``.
    """
    splits = load_mnist_dir(SAMPLE_DIR)
    assert splits.test is not None, "the embedded sample always has a test split"
    return DataSplits(replace(splits.train, name="MNIST sample (train)"),
                      replace(splits.test, name="MNIST sample (test)"))
