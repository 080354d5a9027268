"""History: the metrics of every epoch, one row each, convertible to a pandas DataFrame."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Column order of :meth:`History.to_dataframe`; unknown columns follow in insertion order.
COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")

Row = dict[str, float]


class History:
    """What :meth:`Trainer.fit` returns: one row per epoch.

    Each row maps ``epoch`` (1-based), ``loss`` and ``accuracy`` (running
    averages over the epoch's batches, weighted by batch size), ``val_loss``
    and ``val_accuracy`` (a full pass in inference mode, when there is
    validation data), ``lr`` (the rate used in that epoch) and ``seconds``.

    Args:
        rows: initial rows (e.g. from a checkpoint).

    Example:
        >>> history = History([{"epoch": 1, "loss": 0.5, "lr": 0.1, "seconds": 1.2}])
        >>> history["loss"]
        [0.5]
    """

    def __init__(self, rows: Iterable[Mapping[str, float]] = ()) -> None:
        self.rows: list[Row] = [dict(row) for row in rows]

    def append(self, row: Mapping[str, float]) -> None:
        """Add the row of one epoch."""
        self.rows.append(dict(row))

    @property
    def columns(self) -> list[str]:
        """Column names present in any row, in :data:`COLUMNS` order."""
        present = {key: None for row in self.rows for key in row}
        return [c for c in COLUMNS if c in present] + [c for c in present if c not in COLUMNS]

    def __getitem__(self, column: str) -> list[float]:
        """Values of ``column``, one per epoch that has it; ``KeyError`` for an unknown column."""
        if column not in self.columns:
            raise KeyError(f"no column {column!r} in the history (columns: {', '.join(self.columns)})")
        return [row[column] for row in self.rows if column in row]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.rows == other.rows

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, columns={self.columns})"

    def to_dataframe(self) -> pd.DataFrame:
        """The rows as a DataFrame ``(epochs, columns)`` indexed from 0."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    @classmethod
    def from_dataframe(cls, frame: pd.DataFrame) -> History:
        """Rows from a DataFrame written by :meth:`to_dataframe` (missing values are dropped)."""
        import pandas as pd

        records = frame.to_dict(orient="records")
        return cls([{str(k): _number(k, v) for k, v in record.items() if pd.notna(v)}
                    for record in records])

    def csv_text(self) -> str:
        """The rows as CSV text with a header line, as ``to_dataframe().to_csv(index=False)`` writes
        them (shortest round-tripping floats, an empty cell for a value a row lacks), without pandas:
        it is rewritten after every epoch."""
        columns = self.columns
        lines = [",".join(columns)]
        lines += [",".join(_cell(row.get(column)) for column in columns) for row in self.rows]
        return "\n".join(lines) + "\n"

    def to_csv(self, path: str | Path) -> None:
        """Write the rows to a CSV file with a header line."""
        Path(path).write_text(self.csv_text(), encoding="utf-8")

    @classmethod
    def from_csv(cls, path: str | Path) -> History:
        """Read a CSV file written by :meth:`to_csv`."""
        import pandas as pd

        return cls.from_dataframe(pd.read_csv(path))


def _cell(value: float | None) -> str:
    """One CSV cell: empty for a missing or NaN value, else the number's shortest exact form."""
    if value is None or value != value:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


def _number(column: object, value: object) -> float:
    """A cell as ``int`` for the epoch column, ``float`` otherwise."""
    number = float(value)  # type: ignore[arg-type]
    return int(number) if column == "epoch" else number
