"""A Kaggle digit-recognizer round trip through the command line.

MNIST digits (the embedded sample, so this always runs) are written as Kaggle
files: a labelled ``train.csv`` (by :func:`layernet.data.write_kaggle_csv`), an
unlabelled ``test.csv`` and the same rows with labels, ``labelled.csv`` (both by
pandas directly). ``layernet train`` learns from ``train.csv``,
``layernet evaluate`` scores ``labelled.csv``, ``layernet predict`` writes a
submission for ``test.csv``, which is then scored against the held-back labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from layernet.data import load_sample, write_kaggle_csv

from conftest import RunCli

TRAIN_ROWS, TEST_ROWS = 3_000, 1_000
#: Measured 0.835-0.873 over seeds 0-4 and Adam rates 0.001/0.003 (10 epochs); chance is 0.10.
MIN_ACCURACY = 0.80


def pixel_frame(images: npt.NDArray[np.uint8]) -> pd.DataFrame:
    """Images ``(n, 28, 28)`` as Kaggle pixel columns ``pixel0..pixel783``."""
    flat = images.reshape(len(images), -1)
    return pd.DataFrame(flat, columns=[f"pixel{i}" for i in range(flat.shape[1])])


def test_train_evaluate_and_predict_from_kaggle_csv_files(
        repo_root: Path, tmp_path: Path, run_cli: RunCli) -> None:
    def succeed(*argv: str) -> str:
        """Run ``layernet argv`` in-process (in tmp_path), assert it succeeded, return its stdout."""
        result = run_cli(*argv)
        assert result.returncode == 0, result.stderr
        return result.stdout

    sample = load_sample()
    assert sample.test is not None and sample.test.y is not None and sample.train.y is not None
    write_kaggle_csv(tmp_path / "train.csv", sample.train.x[:TRAIN_ROWS], sample.train.y[:TRAIN_ROWS])
    images, labels = sample.test.x[:TEST_ROWS], sample.test.y[:TEST_ROWS]
    frame = pixel_frame(images)
    frame.to_csv(tmp_path / "test.csv", index=False)
    frame.insert(0, "label", labels)
    frame.to_csv(tmp_path / "labelled.csv", index=False)
    run = tmp_path / "run"

    succeed("train", str(repo_root / "configs" / "digits-784-10-10-adam.yaml"),
            "--data", str(tmp_path / "train.csv"), "--out", str(run),
            "--quiet", "--no-plots")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["samples"]["train"] + metrics["samples"]["validation"] == TRAIN_ROWS

    scored = json.loads(succeed("evaluate", str(run), "--data", str(tmp_path / "labelled.csv"), "--json"))
    assert scored["samples"] == TEST_ROWS
    assert scored["accuracy"] >= MIN_ACCURACY

    succeed("predict", str(run), str(tmp_path / "test.csv"), "--out",
            str(tmp_path / "submission.csv"))
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert list(submission.columns) == ["ImageId", "Label"]
    assert submission["ImageId"].tolist() == list(range(1, TEST_ROWS + 1))
    assert submission["Label"].dtype.kind == "i" and submission["Label"].between(0, 9).all()
    accuracy = float(np.mean(submission["Label"].to_numpy() == labels))
    assert accuracy == pytest.approx(scored["accuracy"])
