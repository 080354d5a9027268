"""The MNIST sample shipped inside the package: 10,000 training and 2,000 test digits.

The files in ``layernet/data/sample/`` are the first 10,000 rows of MNIST's
training set and the first 2,000 rows of its test set, as gzip IDX files
(built by ``scripts/make_sample.py``; licence and details in the README there).
Loading them needs no network.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .dataset import SampleSplits
from .mnist_format import load_mnist_dir

#: The folder holding the embedded sample's four IDX files.
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


def load_sample() -> SampleSplits:
    """The embedded MNIST sample, preprocessed like arrays given to :func:`layernet.fit`.

    Returns:
        ``SampleSplits`` with ``train`` ``x`` ``(10000, 28, 28)`` uint8 and ``y``
        ``(10000,)`` int64, and ``test`` (never None) ``(2000, 28, 28)`` / ``(2000,)``.
        Both scale pixels by 1/255 per batch (``scale = 1/255``), exactly as
        ``Dataset.from_arrays(x_uint8, y)`` does, so ``ln.fit(model, splits.train)`` and
        ``ln.fit(model, splits.train.x, splits.train.y)`` train on the same numbers.
    """
    splits = load_mnist_dir(SAMPLE_DIR)
    assert splits.test is not None, "the embedded sample always has a test split"
    return SampleSplits(replace(splits.train, name="MNIST sample (train)", scale=1 / 255),
                        replace(splits.test, name="MNIST sample (test)", scale=1 / 255))
