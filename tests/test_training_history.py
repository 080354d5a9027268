"""History: column access and round trips through pandas and CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_training_support import blobs, make_trainer

from layernet.training import History


@pytest.fixture
def history() -> History:
    """The history of a real two-epoch run with validation."""
    return make_trainer(epochs=2, validation_split=0.2).fit(blobs())


def test_columns_and_list_access(history: History) -> None:
    assert history.columns == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert history["epoch"] == [1, 2] and len(history) == 2
    assert history["loss"] == [row["loss"] for row in history.rows]
    with pytest.raises(KeyError, match="no column 'val_los'.*columns: epoch, loss"):
        history["val_los"]


def test_dataframe_round_trip(history: History) -> None:
    frame = history.to_dataframe()
    assert list(frame.columns) == history.columns and frame.shape == (2, 7)
    assert frame["epoch"].tolist() == [1, 2]
    assert History.from_dataframe(frame) == history


def test_csv_round_trip_is_exact(history: History, tmp_path: Path) -> None:
    history.to_csv(tmp_path / "h.csv")
    assert pd.read_csv(tmp_path / "h.csv").columns.tolist() == history.columns
    again = History.from_csv(tmp_path / "h.csv")
    assert again == history
    assert isinstance(again.rows[0]["epoch"], int)


def test_rows_with_different_columns_round_trip(tmp_path: Path) -> None:
    history = History([{"epoch": 1, "loss": 0.5, "lr": 0.1}, {"epoch": 2, "loss": 0.25, "val_loss": 0.3, "lr": 0.1}])
    assert history.columns == ["epoch", "loss", "val_loss", "lr"]
    assert history["val_loss"] == [0.3]
    history.to_csv(tmp_path / "h.csv")
    assert History.from_csv(tmp_path / "h.csv") == history


def test_csv_text_is_what_pandas_writes(history: History) -> None:
    """The per-epoch file is written without pandas, byte for byte as pandas would write it."""
    ragged = History([*history.rows, {"epoch": 3, "loss": 1e-9, "accuracy": float("nan"), "lr": 1e-5}])
    for case in (history, ragged):
        assert case.csv_text() == case.to_dataframe().to_csv(index=False)
