"""Shared fixtures: paths to the repository and to the real MNIST files."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The canonical MNIST IDX files live beside the repository in ../shared/data/mnist.
MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture
def repo_root() -> Path:
    """The repository's top folder."""
    return REPO_ROOT


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST IDX folder; skips the test when it is absent."""
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR}")
    return MNIST_DIR
