"""Kaggle digit-recognizer CSV: round trips and a catalogue of bad files with line and column."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from layernet import DataError
from layernet.data import read_kaggle_csv, write_kaggle_csv

RNG = np.random.default_rng(1)
X = RNG.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
Y = RNG.integers(0, 10, size=5)


def test_labelled_round_trip(tmp_path: Path) -> None:
    data = read_kaggle_csv(write_kaggle_csv(tmp_path / "train.csv", X, Y))
    assert data.x.dtype == np.uint8 and data.x.shape == (5, 28, 28)
    np.testing.assert_array_equal(data.x, X)
    assert data.y is not None and data.y.dtype == np.int64
    np.testing.assert_array_equal(data.y, Y)


def test_unlabelled_file_has_no_labels(tmp_path: Path) -> None:
    path = write_kaggle_csv(tmp_path / "test.csv", X.reshape(5, 784))
    assert path.read_text().startswith("pixel0,pixel1,")
    data = read_kaggle_csv(path)
    assert data.y is None
    np.testing.assert_array_equal(data.x, X)


def test_header_and_pixel_order_match_kaggle(tmp_path: Path) -> None:
    lines = write_kaggle_csv(tmp_path / "t.csv", X[:1], Y[:1]).read_text().splitlines()
    assert lines[0].split(",")[:3] == ["label", "pixel0", "pixel1"]
    assert lines[0].split(",")[-1] == "pixel783"
    row = [int(v) for v in lines[1].split(",")]
    assert row[0] == Y[0] and row[1 + 28 * 3 + 5] == X[0, 3, 5]


def test_trailing_blank_lines_and_integral_floats_are_accepted(tmp_path: Path) -> None:
    path = write_kaggle_csv(tmp_path / "t.csv", X, Y)
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(",", ".0,", 3)
    path.write_text("\n".join(lines) + "\n\n\n")
    data = read_kaggle_csv(path)
    np.testing.assert_array_equal(data.x, X)


Edit = Callable[[list[list[str]]], object]


def _set(line: int, column: int, value: str) -> Edit:
    def edit(rows: list[list[str]]) -> None:
        rows[line - 1][column] = value
    return edit


BAD_CSV: dict[str, tuple[Edit, str]] = {
    "empty cell": (_set(3, 301, ""), "line 3, column pixel300: empty cell"),
    "text cell": (_set(4, 11, "abc"), "line 4, column pixel10: 'abc' is not a number"),
    "value 300": (_set(5, 784, "300"), "line 5, column pixel783: 300 is not an integer 0-255"),
    "negative pixel": (_set(2, 1, "-1"), "line 2, column pixel0: -1 is not an integer 0-255"),
    "fractional pixel": (_set(6, 2, "2.5"), "line 6, column pixel1: 2.5 is not an integer 0-255"),
    "negative label": (_set(3, 0, "-2"), "line 3, column label: -2 is not an integer ≥ 0"),
    "text label": (_set(2, 0, "seven"), "line 2, column label: 'seven' is not a number"),
    "misnamed column": (_set(1, 5, "pixl4"),
                        "line 1, column 6 is named 'pixl4', expected 'pixel4'"),
    "missing column": (lambda rows: [row.pop() for row in rows], "header has 784 columns"),
    "extra column": (lambda rows: rows.__setitem__(slice(None), [r + ["0"] for r in rows]),
                     "header has 786 columns"),
    "long row": (lambda rows: rows[3].append("0"), "line 4 has 786 fields, more than the header's 785"),
    "short row": (lambda rows: rows[2].pop(), "line 3, column pixel783: empty cell"),
    "blank line": (lambda rows: rows[3].clear(), "line 4: empty line"),
    "header only": (lambda rows: rows.__delitem__(slice(1, None)), "no data rows"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_names_file_line_and_column(tmp_path: Path, case: str) -> None:
    edit, expected = BAD_CSV[case]
    path = write_kaggle_csv(tmp_path / "train.csv", X, Y)
    rows = [line.split(",") for line in path.read_text().splitlines()]
    edit(rows)
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{path}: ")) as info:
        read_kaggle_csv(path)
    assert expected in str(info.value)


def test_first_bad_line_is_reported(tmp_path: Path) -> None:
    path = write_kaggle_csv(tmp_path / "t.csv", X, Y)
    rows = [line.split(",") for line in path.read_text().splitlines()]
    rows[4][700] = "x"
    rows[2][2] = ""
    path.write_text("\n".join(",".join(row) for row in rows) + "\n")
    with pytest.raises(DataError, match="line 3, column pixel1: empty cell"):
        read_kaggle_csv(path)


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "empty file"),
    (b"\xff\xfe\x00\x01garbage", "not a text CSV file"),
])
def test_unreadable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "t.csv").write_bytes(content)
    with pytest.raises(DataError, match=expected):
        read_kaggle_csv(tmp_path / "t.csv")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="absent.csv: no such file"):
        read_kaggle_csv(tmp_path / "absent.csv")


@pytest.mark.parametrize(("x", "y", "expected"), [
    (np.zeros((2, 27, 27), np.uint8), None, "x must be"),
    (np.full((2, 784), 256), None, "integers 0-255"),
    (np.zeros((2, 784), np.float32), None, "integers 0-255"),
    (np.zeros((2, 784), np.uint8), np.zeros(3, np.int64), r"y must be \(2,\) integers"),
])
def test_writer_checks_arguments(tmp_path: Path, x: np.ndarray, y: np.ndarray | None,
                                 expected: str) -> None:
    with pytest.raises(DataError, match=expected):
        write_kaggle_csv(tmp_path / "t.csv", x, y)
    assert not (tmp_path / "t.csv").exists()
