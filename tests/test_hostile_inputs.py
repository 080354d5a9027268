"""A catalogue of bad inputs: every one is answered with one line naming what and where.

Each case writes a damaged, hostile or simply wrong file (or argument) and runs it
through the command line in-process (exit code 2, one ``layernet: error: ...`` line
that names the file and the problem, no traceback, no warning lines, no file left
behind: no run directory, no ``.part`` file) and, for model files and checkpoints,
through the public API (only :class:`layernet.LayernetError` subclasses).

The first cases of each file family run in the quick suite, the whole catalogue in the slow
suite (which CI runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from typing import Any
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import CliResult, RunCli
from test_hostile_support import (CONFIG, array_npy, checkpoint_file, data_npz, declaring, digits, gzip_of,
                                  gzip_zeros, idx_bytes, lying_member, members_of,
                                  mnist_dir, model_file, npy, replace_members, stack_config, state_of,
                                  text_npy, write_zip, zip_bomb_member)

import layernet as ln
from layernet.config import load_run_config
from layernet.data import load_npz
from layernet.data.csv import read_kaggle_csv
from layernet.data.idx import read_idx
from layernet.data.mnist_format import load_mnist_dir
from layernet.parameter import BUDGET_VARIABLE

Build = Callable[[Path], Path]
#: ``layernet: error: ...``, or argparse's ``layernet train: error: ...`` for a bad argument.
ERROR_LINE = re.compile(r"layernet( [a-z]+)?: error: ")


@dataclass(frozen=True)
class Case:
    """One bad input: ``build(tmp)`` writes it and returns its path; the error names ``expect``."""

    id: str
    build: Build
    expect: str
    names_file: bool = True
    extra: tuple[str, ...] = field(default=())


def assert_one_line(result: CliResult, *fragments: str) -> str:
    """Exit code 2 and exactly one ``layernet: error:`` line holding every fragment."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert ERROR_LINE.match(lines[0]), lines[0]
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def listing(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def run_and_check(run_cli: RunCli, tmp_path: Path, argv: list[str | Path], *fragments: str) -> str:
    """Run ``argv``; check the one line and that no file appeared or vanished."""
    before = listing(tmp_path)
    with deadline():
        line = assert_one_line(run_cli(*argv), *fragments)
    after = listing(tmp_path)
    assert after == before, sorted(after ^ before)
    assert not [name for name in after if name.endswith(".part")]
    return line


#: Cases of each family that run in the quick suite; the whole catalogue runs in the slow suite,
#: which CI runs.
QUICK_CASES = 8


def sampled(cases: list[Case]) -> list[Any]:
    """``cases`` as parameters: the first :data:`QUICK_CASES` quick, the rest marked slow."""
    return [pytest.param(case, id=case.id, marks=() if index < QUICK_CASES else pytest.mark.slow)
            for index, case in enumerate(cases)]


def train_on(run_cli: RunCli, tmp_path: Path, data: Path, *expected: str) -> None:
    """``layernet train`` of the small catalogue config on the bad ``data``: see :func:`run_and_check`."""
    config = tmp_path / "cfg.yaml"
    config.write_text(CONFIG)
    run_and_check(run_cli, tmp_path, ["train", config, "--data", data, "--out", tmp_path / "run",
                                      "--quiet", "--no-plots"], *expected)


def text(content: str | bytes, name: str = "cfg.yaml") -> Build:
    def build(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path
    return build


def replaced(old: str, new: str) -> str:
    assert old in CONFIG
    return CONFIG.replace(old, new)


def fifo(name: str) -> Build:
    """A named pipe ``name`` (reading it would block until someone writes)."""
    def build(tmp: Path) -> Path:
        os.mkfifo(tmp / name)
        return tmp / name
    return build


def symlink(name: str, target: str) -> Build:
    """A symbolic link ``name`` to ``target`` (``/dev/zero``, or ``name`` itself: a loop)."""
    def build(tmp: Path) -> Path:
        (tmp / name).symlink_to(target if target.startswith("/") else tmp / target)
        return tmp / name
    return build


@contextlib.contextmanager
def deadline(seconds: int = 20) -> Iterator[None]:
    """Fail instead of hanging forever (a reader that blocks on a FIFO)."""
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: blocked on a pipe?")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- configs ---------------------------------------------------------------------------------
LAUGHS = "\n".join(['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
                   + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)])
CONFIG_CASES = [
    Case("nul byte", text(CONFIG + "note: a\x00b\n"), "U+0000 (NUL)", extra=("cfg.yaml:11:8",)),
    Case("bell", text(CONFIG + "note: \x07\n"), "U+0007"),
    Case("escape", text("\x1b[31m" + CONFIG), "U+001B", extra=("cfg.yaml:1:1",)),
    Case("binary file", text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "cfg.yaml"),
    Case("not utf-8", text(b"model: \xff\xfe\n"), "UTF-8"),
    Case("5000-digit integer", text(replaced("epochs: 1", "epochs: " + "9" * 5000)),
         "5000 digits", extra=("cfg.yaml:9:17",)),
    Case("5000-digit float", text(replaced("lr: 0.01", "lr: 0." + "1" * 5000)), "digits"),
    Case("huge hex integer", text(replaced("seed: 0", "seed: 0x" + "f" * 5000)), "digits"),
    Case("deep nesting", text("model: " + "[" * 10_000 + "]" * 10_000 + "\n"), "nesting deeper"),
    Case("billion laughs", text(LAUGHS + "\nmodel: {layers: *a9}\n"), "expands to more than"),
    Case("recursive alias", text("model: &m {layers: [*m]}\n"), "cfg.yaml"),
    Case("python tag", text(CONFIG + "x: !!python/object/apply:os.system ['echo hi']\n"), "not allowed"),
    Case("custom tag", text(CONFIG + "x: !secret 1\n"), "not allowed"),
    Case("duplicate key", text(CONFIG + "loss: MSE\n"), "duplicate key 'loss'"),
    Case("empty file", text(""), "empty"),
    Case("top-level list", text("- model\n- loss\n"), "not a mapping"),
    Case("tab indentation", text("model:\n\tlayers: []\n"), "invalid YAML"),
    Case("unterminated quote", text('model: "abc\n'), "invalid YAML"),
    Case("merge key", text("base: &b {units: 3}\nmodel: {<<: *b}\n"), "merge keys"),
    Case("list as key", text("[a, b]: 1\n"), "is not a name"),
    Case("unknown layer", text(replaced("type: Dense", "type: Dens")), "Dens"),
    Case("negative units", text(replaced("units: 10", "units: -3")), "units"),
    Case("learning rate text", text(replaced("lr: 0.01", "lr: fast")), "lr"),
    Case("learning rate overflow", text(replaced("lr: 0.01", "lr: 1e999")), "lr"),
    Case("learning rate nan", text(replaced("lr: 0.01", "lr: .nan")), "lr"),
    Case("negative epochs", text(replaced("epochs: 1", "epochs: -1")), "epochs"),
    Case("zero batch size", text(replaced("batch_size: 8", "batch_size: 0")), "batch_size"),
    Case("over 1 MB", text(CONFIG + "#" * 1_100_000 + "\n"), "larger than"),
    Case("missing file", lambda tmp: tmp / "absent.yaml", "not found"),
    Case("a directory", lambda tmp: (tmp / "cfgdir.yaml").mkdir() or tmp / "cfgdir.yaml", "is a folder, not a config file"),
    Case("a FIFO", fifo("cfg.yaml"), "is a FIFO (named pipe), not a config file"),
    Case("symlink to /dev/zero", symlink("cfg.yaml", "/dev/zero"), "is a character device"),
    Case("symlink loop", symlink("cfg.yaml", "cfg.yaml"), "is a symbolic link loop"),
    Case("UTF-16 text", text(CONFIG.encode("utf-16")), "UTF-8"),
    Case("two YAML documents", text(CONFIG + "---\n" + CONFIG), "another document"),
    Case("nested duplicate key", text(replaced("seed: 0", "seed: 0\n  seed: 1")), "duplicate key 'seed'",
         extra=("cfg.yaml:4:3",)),
    Case("infinite units", text(replaced("units: 10", "units: .inf")), "units: expected int"),
    Case("NaN initializer bound", text(replaced("units: 10}", "units: 10, init: {type: uniform, low: .nan}}")),
         "init.low"),
]


@pytest.mark.parametrize("case", sampled(CONFIG_CASES))
def test_bad_configs(run_cli: RunCli, tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path)
    run_and_check(run_cli, tmp_path, ["train", path, "--out", tmp_path / "run", "--quiet", "--no-plots"],
                  path.name, case.expect, *case.extra)
    with pytest.raises(ln.ConfigError):
        load_run_config(path)


#: Configs that load but whose model cannot be built: (id, config text, environment, expected).
BUILD_CASES = [
    ("model of 292 GiB", replaced("units: 10", "units: 100000000"), {},
     "the model needs at least 292.1 GiB of parameters (weight float32[784, 100000000]: 292.1 GiB)"),
    ("model over the budget variable", replaced("units: 10", "units: 1000"), {BUDGET_VARIABLE: "1M"},
     "more than the 1.0 MiB LAYERNET_MAX_PARAMETER_BYTES allows"),
    ("malformed budget variable", CONFIG, {BUDGET_VARIABLE: "lots"}, "must be a size in bytes"),
    ("initializer giving infinite weights",
     replaced("units: 10}", "units: 10, init: {type: normal, std: 1.0e+308}}"), {}, "finite values"),
]


@pytest.mark.parametrize("config, env, expect", [case[1:] for case in BUILD_CASES],
                         ids=[case[0] for case in BUILD_CASES])
def test_models_that_cannot_be_built(run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     config: str, env: dict[str, str], expect: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = text(config)(tmp_path)
    for argv in (["train", path, "--out", tmp_path / "run", "--quiet", "--no-plots"], ["summary", path]):
        run_and_check(run_cli, tmp_path, argv, expect)


# -- IDX directories ------------------------------------------------------------------------------
IMAGES = "train-images-idx3-ubyte.gz"
LABELS = "train-labels-idx1-ubyte.gz"


def idx_case(name: str, content: bytes | None, *, rename: str | None = None) -> Build:
    """A valid MNIST directory with ``name`` replaced by ``content`` (None: removed), saved
    under ``rename`` when given."""
    def build(tmp: Path) -> Path:
        directory = mnist_dir(tmp / "mnist")
        (directory / name).unlink()
        if content is not None:
            (directory / (rename or name)).write_bytes(content)
        return directory
    return build


def idx_special(make: Callable[[Path], object]) -> Build:
    """A valid MNIST directory whose training images file is replaced by what ``make`` creates."""
    def build(tmp: Path) -> Path:
        directory = mnist_dir(tmp / "mnist")
        (directory / IMAGES).unlink()
        make(directory / IMAGES)
        return directory
    return build


X12, Y12 = digits(12)
GOOD_IMAGES = idx_bytes((8, 3), (12, 28, 28), X12.tobytes())
HUGE_DIMS = idx_bytes((8, 3), (2**32 - 1, 2**32 - 1, 2**32 - 1), b"")
IDX_CASES = [
    Case("bad magic", idx_case(IMAGES, gzip_of(b"\x01\x02\x03\x04" + bytes(100))), "not an IDX file"),
    Case("zero dimensions", idx_case(IMAGES, gzip_of(bytes([0, 0, 8, 0]))), "0 dimensions"),
    Case("40 dimensions", idx_case(IMAGES, gzip_of(bytes([0, 0, 8, 40]) + bytes(160))), "40 dimensions"),
    Case("truncated header", idx_case(IMAGES, gzip_of(bytes([0, 0, 8, 3, 0, 0]))), "truncated header"),
    Case("raw truncated body", idx_case(IMAGES, GOOD_IMAGES[:-10], rename="train-images-idx3-ubyte"),
         "truncated"),
    Case("raw trailing data", idx_case(IMAGES, GOOD_IMAGES + b"xx", rename="train-images-idx3-ubyte"),
         "trailing data"),
    Case("raw huge dimensions", idx_case(IMAGES, HUGE_DIMS, rename="train-images-idx3-ubyte"),
         "too large to load"),
    Case("gzip huge dimensions", idx_case(IMAGES, gzip_of(HUGE_DIMS)), "too large to load"),
    Case("raw header bigger than the file",
         idx_case(IMAGES, idx_bytes((8, 3), (60000, 28, 28), bytes(100)), rename="train-images-idx3-ubyte"),
         "truncated"),
    Case("gzip bomb, honest header",
         idx_case(IMAGES, gzip_zeros(idx_bytes((8, 3), (200_000, 28, 28), b""), 200_000 * 784)),
         "may inflate to at most"),
    Case("gzip inflating beyond its header",
         idx_case(IMAGES, gzip_zeros(idx_bytes((8, 3), (12, 28, 28), b""), 50_000_000)), "trailing data"),
    Case("gzip shorter than its header",
         idx_case(IMAGES, gzip_of(idx_bytes((8, 3), (12, 28, 28), bytes(100)))), "truncated"),
    Case("corrupt gzip", idx_case(IMAGES, gzip_of(GOOD_IMAGES)[:40] + b"\xff" * 50
                                  + gzip_of(GOOD_IMAGES)[90:]), "corrupt"),
    Case("cut gzip", idx_case(IMAGES, gzip_of(GOOD_IMAGES)[:200]), "corrupt or truncated"),
    Case("garbage after gzip", idx_case(IMAGES, gzip_of(GOOD_IMAGES) + b"garbage!"), IMAGES),
    Case("labels are images", idx_case(LABELS, gzip_of(GOOD_IMAGES)), "expected uint8 labels"),
    Case("float images", idx_case(IMAGES, gzip_of(idx_bytes((0x0D, 3), (12, 28, 28), bytes(12 * 784 * 4)))),
         "expected uint8 images"),
    Case("count mismatch", idx_case(IMAGES, gzip_of(idx_bytes((8, 3), (11, 28, 28), bytes(11 * 784)))),
         "holds 11 images but"),
    Case("test images of another size",
         idx_case("t10k-images-idx3-ubyte.gz", gzip_of(idx_bytes((8, 3), (4, 20, 20), bytes(1600)))),
         "test images are", names_file=False),
    Case("missing labels", idx_case(LABELS, None), "missing train-labels-idx1-ubyte", names_file=False),
    Case("empty file", idx_case(IMAGES, b""), "only 0 bytes"),
    Case("gzip of nothing", idx_case(IMAGES, gzip_of(b"")), "only 0 bytes"),
    Case("labels out of range", idx_case(LABELS, gzip_of(idx_bytes((8, 1), (12,), bytes([200]) * 12))),
         "labels from 200 to 200", names_file=False),
    Case("labels 3-D", idx_case(LABELS, gzip_of(idx_bytes((8, 3), (12, 1, 1), bytes(12)))),
         "expected uint8 labels"),
    Case("images a FIFO", idx_special(os.mkfifo), "is a FIFO (named pipe), expected an IDX file"),
    Case("images a symlink to /dev/zero", idx_special(lambda path: path.symlink_to("/dev/zero")),
         "is a character device"),
    Case("images a symlink loop", idx_special(lambda path: path.symlink_to(path)), "symbolic link loop"),
]


@pytest.mark.parametrize("case", sampled(IDX_CASES))
def test_bad_idx_directories(run_cli: RunCli, tmp_path: Path, case: Case) -> None:
    directory = case.build(tmp_path)
    names = ["train-images-idx3-ubyte"] if case.names_file and "labels" not in case.expect else []
    train_on(run_cli, tmp_path, directory, case.expect, *names)
    if case.names_file:
        with pytest.raises(ln.DataError):
            load_mnist_dir(directory)


# -- Kaggle CSV files ------------------------------------------------------------------------------
HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))
ROW = ",".join(["0"] * 784)


def csv(content: str | bytes) -> Build:
    return text(content, "d.csv")


CSV_CASES = [
    Case("empty file", csv(""), "empty file"),
    Case("half a million commas", csv("," * 500_000 + "\n"), "line 1 is longer than 65,536 bytes"),
    Case("header of 30,000 columns", csv("," * 30_000 + "\n"), "header has 30001 columns"),
    Case("row of 20,000 fields", csv(HEADER + "\n" + "0," * 20_000 + "\n"), "line 2 has 20001 fields"),
    Case("line over 64 KiB", csv(HEADER + "\n1," + "9" * 70_000 + "\n"), "line 2 is longer than"),
    Case("label beyond int64", csv(f"{HEADER}\n99999999999999999999999,{ROW}\n"), "labels above 2**53"),
    Case("label 1e30", csv(f"{HEADER}\n1e30,{ROW}\n"), "column label"),
    Case("label inf", csv(f"{HEADER}\ninf,{ROW}\n"), "column label"),
    Case("negative label", csv(f"{HEADER}\n-1,{ROW}\n"), "line 2, column label: -1"),
    Case("fractional label", csv(f"{HEADER}\n1.5,{ROW}\n"), "column label: 1.5"),
    Case("pixel 256", csv(f"{HEADER}\n1,256{ROW[1:]}\n"), "column pixel0: 256 is not an integer 0-255"),
    Case("pixel 10**30", csv(f"{HEADER}\n1,{10**30}{ROW[1:]}\n"), "column pixel0"),
    Case("pixel text", csv(f"{HEADER}\n1,abc{ROW[1:]}\n"), "'abc' is not a number"),
    Case("pixel fraction", csv(f"{HEADER}\n1,0.5{ROW[1:]}\n"), "0.5 is not an integer"),
    Case("not utf-8", csv(HEADER.encode() + b"\n\xff\xfe," + ROW.encode() + b"\n"), "d.csv"),
    Case("nul bytes", csv(HEADER.encode() + b"\n1,\x00" + ROW[1:].encode() + b"\n"), "d.csv"),
    Case("header only", csv(HEADER + "\n"), "no data rows"),
    Case("misnamed column", csv(HEADER.replace("pixel5,", "pixl5,") + f"\n1,{ROW}\n"), "named 'pixl5'"),
    Case("blank line inside", csv(f"{HEADER}\n1,{ROW}\n\n2,{ROW}\n"), "line 3: empty line"),
    Case("labelled rows, 10 classes exceeded", csv(f"{HEADER}\n12,{ROW}\n"), "labels from 12 to 12",
         names_file=False),
    Case("label 'nan'", csv(f"{HEADER}\nnan,{ROW}\n"), "column label: 'nan' is not a number"),
    Case("pixel 'NA'", csv(f"{HEADER}\n1,NA{ROW[1:]}\n"), "column pixel0: 'NA' is not a number"),
    Case("a FIFO", fifo("d.csv"), "is a FIFO (named pipe)"),
    Case("symlink to /dev/zero", symlink("d.csv", "/dev/zero"), "is a character device"),
]


@pytest.mark.parametrize("case", sampled(CSV_CASES))
def test_bad_csv_files(run_cli: RunCli, tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path)
    train_on(run_cli, tmp_path, path, case.expect, *(["d.csv"] if case.names_file else []))
    if case.names_file:
        with pytest.raises(ln.DataError):
            read_kaggle_csv(path)


# -- npz data archives ----------------------------------------------------------------------------
def npz(members: dict[str, bytes], compress: bool = False) -> Build:
    return lambda tmp: write_zip(tmp / "d.npz", members, compress=compress)


GOOD_Y = array_npy(Y12)
GOOD_X = array_npy(X12.reshape(12, -1))
NPZ_CASES = [
    Case("header claims 10**12 rows", npz({"x.npy": npy((10**12, 784), "<f8", bytes(100)), "y.npy": GOOD_Y}),
         "declares shape (1000000000000, 784)"),
    Case("honest zip bomb", lambda tmp: zip_bomb_member(tmp / "d.npz", "x.npy", npy((2**25, 8), "|u1", b""),
                                                       2**28, {"y.npy": GOOD_Y}), "refusing to inflate"),
    Case("member inflating beyond its directory entry",
         lambda tmp: lying_member(tmp / "d.npz", "x.npy", GOOD_X, 100_000_000, {"y.npy": GOOD_Y},
                                  actual_prefix=GOOD_X[:128]), "damaged"),
    Case("object array", npz({"x.npy": npy((2, 3), "|O", b""), "y.npy": GOOD_Y}), "pickled Python objects"),
    Case("structured dtype", npz({"x.npy": npy((2,), "[('a', '<i4')]" if False else "<i4", bytes(8))
                                  .replace(b"'<i4'", b"[('a', '<i4')]"), "y.npy": GOOD_Y}), "d.npz"),
    Case("complex samples", npz({"x.npy": array_npy(np.zeros((12, 3), complex)), "y.npy": GOOD_Y}),
         "must be a numeric array"),
    Case("float labels", npz({"x.npy": GOOD_X, "y.npy": array_npy(Y12.astype(float))}), "1-D integer labels"),
    Case("length mismatch", npz({"x.npy": GOOD_X, "y.npy": array_npy(Y12[:5])}), "has 12 samples but 'y' has 5"),
    Case("negative label", npz({"x.npy": GOOD_X, "y.npy": array_npy(-Y12 - 1)}), "negative label"),
    Case("label beyond int64", npz({"x.npy": GOOD_X, "y.npy": array_npy(np.full(12, 2**64 - 1, np.uint64))}),
         "label above"),
    Case("nan samples", npz({"x.npy": array_npy(np.full((12, 784), np.nan)), "y.npy": GOOD_Y}), "NaN"),
    Case("not a zip", lambda tmp: text(b"hello", "d.npz")(tmp), "not a readable .npz archive"),
    Case("a single .npy", lambda tmp: text(GOOD_X, "d.npz")(tmp), "a single .npy array"),
    Case("truncated zip", lambda tmp: text(data_npz(tmp / "d.npz").read_bytes()[:-60], "d.npz")(tmp), "d.npz"),
    Case("flipped data byte", lambda tmp: text(
        (lambda b: b[:200] + bytes([b[200] ^ 0xFF]) + b[201:])(write_zip(tmp / "d.npz", {
            "x.npy": GOOD_X, "y.npy": GOOD_Y}).read_bytes()), "d.npz")(tmp), "damaged"),
    Case("member not .npy", npz({"x.npy": GOOD_X, "y.npy": GOOD_Y, "run.sh": b"rm -rf /"}), "not a .npy array"),
    Case("duplicate member", lambda tmp: _duplicate(tmp), "twice"),
    Case("npy version 3", npz({"x.npy": GOOD_X[:6] + b"\x03\x00" + GOOD_X[8:], "y.npy": GOOD_Y}), "version"),
    Case("header length 60000", npz({"x.npy": b"\x93NUMPY\x01\x00" + (60000).to_bytes(2, "little")
                                     + b" " * 60000, "y.npy": GOOD_Y}), "header of 60000 bytes"),
    Case("negative dimension", npz({"x.npy": npy((12, 784)).replace(b"(12, 784)", b"(-1, 784) "),
                                    "y.npy": GOOD_Y}), "invalid shape"),
    Case("float dimension", npz({"x.npy": npy((12, 784)).replace(b"(12, 784)", b"(1.5, 784)"),
                                 "y.npy": GOOD_Y}), "malformed .npy header"),
    Case("one-dimensional samples", npz({"x.npy": array_npy(np.zeros(12)), "y.npy": GOOD_Y}), "2 dimensions"),
    Case("11,000 members", npz({f"a{i}.npy": b"" for i in range(11_000)}), "more than 10000"),
    Case("no x", npz({"images.npy": GOOD_X, "y.npy": GOOD_Y}), "no array 'x'"),
    Case("a FIFO", fifo("d.npz"), "is a FIFO (named pipe)"),
    Case("symlink to /dev/zero", symlink("d.npz", "/dev/zero"), "is a character device"),
    Case("member named ../../x.npy", npz({"../../x.npy": GOOD_X, "y.npy": GOOD_Y}), "no array 'x' (found: ../../x, y)"),
    Case("boolean samples", npz({"x.npy": array_npy(X12 > 3), "y.npy": GOOD_Y}), "must be a numeric array"),
    Case("boolean labels", npz({"x.npy": GOOD_X, "y.npy": array_npy(Y12 > 4)}), "1-D integer labels"),
]


def _duplicate(tmp: Path) -> Path:
    path = tmp / "d.npz"
    with pytest.warns(UserWarning):
        write_zip(path, {"x.npy": GOOD_X, "y.npy": GOOD_Y})
        import zipfile
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("x.npy", GOOD_X)
    return path


@pytest.mark.parametrize("case", sampled(NPZ_CASES))
def test_bad_npz_data(run_cli: RunCli, tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path)
    train_on(run_cli, tmp_path, path, "d.npz", case.expect)
    with pytest.raises(ln.DataError):
        load_npz(path)


# -- model files ------------------------------------------------------------------------------------
def model_with(**changes: bytes | None) -> Build:
    """A valid model file ``m.npz`` with some members replaced (``weights__x`` for ``weights/x``)."""
    def build(tmp: Path) -> Path:
        good = model_file(tmp / "good.npz")
        path = replace_members(good, tmp / "m.npz", **changes)
        good.unlink()
        return path
    return build


def config_json(**layer_changes: object) -> bytes:
    config = ln.Sequential([ln.Dense(10), ln.Softmax()], input_shape=(784,)).get_config()
    config["layers"][0].update(layer_changes)
    return text_npy(json.dumps(config))


#: A stored config of 897 MiB of weights (784 -> 300,000).
DENSE_300K = stack_config([{"type": "Dense", "units": 300_000}, {"type": "Softmax"}])


def model_declaring(config: dict[str, object]) -> Build:
    """A valid model file ``m.npz`` (weights of a 784-10 model) whose config declares ``config``."""
    return lambda tmp: declaring(model_file(tmp / "g.npz"), tmp / "m.npz", config)


def config_preprocessing(**changes: object) -> Build:
    """A valid model file ``m.npz`` whose stored config's ``preprocessing`` has ``changes``."""
    def build(tmp: Path) -> Path:
        good = model_file(tmp / "g.npz")
        with np.load(good) as archive:
            config = json.loads(str(archive["config"]))
        config["preprocessing"].update(changes)
        return declaring(good, tmp / "m.npz", config)
    return build


W = "weights__layers.0.weight"
B = "weights__layers.0.bias"
MODEL_CASES = [
    Case("empty file", text(b"", "m.npz"), "not a readable layernet .npz file"),
    Case("text file", text(b"layers: [Dense]\n", "m.npz"), "not a readable layernet .npz file"),
    Case("truncated", lambda tmp: text(model_file(tmp / "m.npz").read_bytes()[:-100], "m.npz")(tmp), "m.npz"),
    Case("weight header claims (10**12, 784)", model_with(**{W: npy((10**12, 784), "<f4", bytes(64))}),
         "declares shape"),
    Case("weight entry zip bomb", lambda tmp: zip_bomb_member(
        tmp / "m.npz", "weights/layers.0.weight.npy", npy((2**26, 1), "<f4", b""), 2**28,
        {k: v for k, v in members_of(model_file(tmp / "g.npz")).items() if "weight" not in k}),
        "refusing to inflate"),
    Case("nan weight", model_with(**{W: array_npy(np.full((784, 10), np.nan, np.float32))}), "NaN or infinite"),
    Case("infinite bias", model_with(**{B: array_npy(np.full(10, np.inf, np.float32))}),
         "'weights/layers.0.bias' holds 10 NaN or infinite values"),
    Case("wrong weight shape", model_with(**{W: array_npy(np.zeros((10, 784), np.float32))}), "do not fit"),
    Case("wrong weight dtype", model_with(**{W: array_npy(np.zeros((784, 10)))}), "float64[784, 10] in the file"),
    Case("big-endian weights", model_with(**{W: array_npy(np.zeros((784, 10), ">f4"))}), "do not fit"),
    Case("missing weight", model_with(**{B: None}), "absent in the file"),
    Case("object weight", model_with(**{W: npy((784, 10), "|O", b"")}), "pickled Python objects"),
    Case("config not JSON", model_with(config=text_npy("{not json")), "'config' is not valid JSON"),
    Case("config 100,000 levels deep", model_with(config=text_npy("[" * 100_000 + "]" * 100_000)),
         "nested 100000 levels deep"),
    Case("config 5000-digit number", model_with(config=config_json(units=int("9" * 99)) .replace(
        b"9" * 99, b"9" * 5000) if False else text_npy('{"layers": [], "input_shape": [' + "9" * 5000 + "]}")),
        "digits"),
    Case("config absurd units", model_with(config=config_json(units=10**14)), "m.npz"),
    Case("config unknown layer", model_with(config=config_json(type="Fancy")), "'Fancy', which is not registered"),
    Case("config missing", model_with(config=None), "'config' is missing"),
    Case("config a number", model_with(config=array_npy(np.array(3))), "'config' should be text"),
    Case("config text declared huge", model_with(config=npy((), "<U100000000", bytes(64))), "declares"),
    Case("preprocessing scale 0", model_with(preprocessing=text_npy('{"shift": 0, "scale": 0}')), "scale 0"),
    Case("preprocessing nan", model_with(preprocessing=text_npy('{"shift": NaN, "scale": 1}')), "preprocessing"),
    Case("preprocessing list", model_with(preprocessing=text_npy("[1, 2]")), "preprocessing"),
    Case("preprocessing without scale", model_with(preprocessing=text_npy('{"shift": 1}')), "no 'scale'"),
    Case("a checkpoint", lambda tmp: checkpoint_file(tmp / "m.npz"), "expected a layernet-model file"),
    Case("newer format", model_with(format_version=array_npy(np.array(99))), "newer than this layernet"),
    Case("member not .npy", model_with(evil__script=None) if False else (
        lambda tmp: write_zip(tmp / "m.npz", {**members_of(model_file(tmp / "g.npz")), "evil.sh": b"x"})),
        "not a .npy array"),
    Case("a single .npy", text(array_npy(np.zeros(3)), "m.npz"), "a single .npy array"),
    Case("plain arrays", lambda tmp: write_zip(tmp / "m.npz", {"x.npy": array_npy(np.zeros(3))}),
         "not a layernet file"),
    Case("a FIFO", fifo("m.npz"), "is a FIFO (named pipe), expected an .npz file"),
    Case("symlink to /dev/zero", symlink("m.npz", "/dev/zero"), "is a character device"),
    Case("symlink loop", symlink("m.npz", "m.npz"), "is a symbolic link loop"),
    Case("config declaring 897 MiB of weights", model_declaring(DENSE_300K),
         "larger than the stored weights: layer [0] Dense: the model needs at least 897.2 MiB"),
    Case("config declaring two Conv2D(4096)", model_declaring(stack_config(
        [{"type": "Conv2D", "filters": 4096, "kernel_size": 3}] * 2 + [{"type": "Flatten"},
                                                                        {"type": "Dense", "units": 10}],
        (1, 28, 28))), "layer [1] Conv2D: the model needs at least"),
    Case("config declaring 2,000 Dense(1000)", model_declaring(stack_config(
        [{"type": "Dense", "units": 1000}] * 2000)), "larger than the stored weights"),
    Case("config one unit wider", model_declaring(stack_config([{"type": "Dense", "units": 11}])),
         "layers.0.bias: float32[10] in the file, float32[11] in the model"),
    Case("float16 weights", model_with(**{W: array_npy(np.zeros((784, 10), np.float16))}),
         "float16[784, 10] in the file"),
    Case("complex weights", model_with(**{W: array_npy(np.zeros((784, 10), np.complex64))}),
         "complex64[784, 10] in the file"),
    Case("config preprocessing scale 0", config_preprocessing(scale=0), "scale 0 would erase every input"),
    Case("config preprocessing shift NaN", config_preprocessing(shift=float("nan")), "NaN or infinite"),
    Case("config preprocessing of 100,000 values", config_preprocessing(shift=[0.0] * 100_000),
         "shift of shape [100000] does not fit samples of shape [784]"),
    Case("config layers not a list", model_with(config=text_npy('{"input_shape": [784], "layers": {"a": 1}}')),
         "config must be a mapping whose 'layers' is a list"),
]


@pytest.mark.parametrize("case", sampled(MODEL_CASES))
def test_bad_model_files(run_cli: RunCli, tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path)
    (tmp_path / "g.npz").unlink(missing_ok=True)
    if case.id != "a checkpoint":  # the CLI opens checkpoints as models (docs/trust.md)
        run_and_check(run_cli, tmp_path, ["evaluate", path], "m.npz", case.expect)
    with pytest.raises(ln.ModelFileError) as caught, deadline():
        ln.load_model(path)
    assert "m.npz" in str(caught.value) and "\n" not in str(caught.value)


# -- checkpoints ----------------------------------------------------------------------------------
def checkpoint_with(edit: Callable[[dict[str, object]], None] | None = None, **changes: bytes | None) -> Build:
    """A valid checkpoint ``c.npz`` with its state edited by ``edit`` and members replaced."""
    def build(tmp: Path) -> Path:
        good = checkpoint_file(tmp / "good.npz")
        if edit is not None:
            value = state_of(good)
            edit(value)
            changes["state"] = text_npy(json.dumps(value))
        path = replace_members(good, tmp / "c.npz", **changes)
        good.unlink()
        return path
    return build


def set_key(key: str, value: object) -> Callable[[dict[str, object]], None]:
    def edit(state: dict[str, object]) -> None:
        target: dict[str, object] = state
        *parents, last = key.split(".")
        for parent in parents:
            child = target[parent]
            assert isinstance(child, dict)
            target = child
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return edit


SLOT = "optimizer__exp_avg"
CHECKPOINT_CASES = [
    Case("nan in optimizer slot", checkpoint_with(**{SLOT: array_npy(np.full(7850, np.nan, np.float32))}),
         "'optimizer/exp_avg' holds NaN"),
    Case("missing optimizer slot", checkpoint_with(**{"optimizer__exp_avg_sq": None}),
         "optimizer/exp_avg_sq are missing"),
    Case("no optimizer slots after steps", checkpoint_with(**{SLOT: None, "optimizer__exp_avg_sq": None}),
         "took 2 steps"),
    Case("slot of the wrong size", checkpoint_with(**{SLOT: array_npy(np.zeros(5, np.float32))}),
         "needs 7850 floats"),
    Case("negative steps", checkpoint_with(optimizer__steps=array_npy(np.array(-4))), "steps"),
    Case("fractional steps", checkpoint_with(optimizer__steps=array_npy(np.array(1.5))), "one number"),
    Case("zero learning rate", checkpoint_with(optimizer__lr=array_npy(np.array(0.0))), "lr"),
    Case("nan learning rate", checkpoint_with(optimizer__lr=array_npy(np.array(np.nan))), "optimizer/lr"),
    Case("unknown optimizer entry", checkpoint_with(optimizer__momentum_buffer=array_npy(np.zeros(7850))),
         "not part of Adam's state"),
    Case("negative epoch", checkpoint_with(set_key("epoch", -1)), "epoch must be an integer >= 0"),
    Case("fractional epoch", checkpoint_with(set_key("epoch", 1.5)), "epoch"),
    Case("boolean epoch", checkpoint_with(set_key("epoch", True)), "epoch"),
    Case("negative base lr", checkpoint_with(set_key("base_lr", -1)), "base_lr"),
    Case("missing seed", checkpoint_with(set_key("seed", KeyError)), "missing seed"),
    Case("other bit generator", checkpoint_with(set_key("model_rng.bit_generator", "MT19937")),
         "must be a PCG64 generator state"),
    Case("rng state out of range", checkpoint_with(set_key("shuffle_rng.state.state", 2**200)), "2**128"),
    Case("rng state negative", checkpoint_with(set_key("shuffle_rng.state.inc", -1)), "shuffle_rng.state.inc"),
    Case("rng missing field", checkpoint_with(set_key("model_rng.has_uint32", KeyError)), "model_rng"),
    Case("history of text", checkpoint_with(set_key("history", [{"epoch": 1, "loss": "low"}])), "history row 1"),
    Case("history not a list", checkpoint_with(set_key("history", {"a": 1})), "history must be a list"),
    Case("more history than epochs", checkpoint_with(set_key("history", [{"epoch": 1}] * 5)), "5 rows for 1"),
    Case("state 100,000 levels deep", checkpoint_with(**{"state": text_npy("[" * 100_000 + "]" * 100_000)}),
         "nested"),
    Case("nan weights", checkpoint_with(weights__layers__0__weight=None) if False else checkpoint_with(
        **{"weights__layers.0.weight": array_npy(np.full((784, 10), np.nan, np.float32))}), "NaN or infinite"),
    Case("a model file", lambda tmp: model_file(tmp / "c.npz"), "expected a layernet-checkpoint file"),
    Case("steps header claims 10**12 values", checkpoint_with(optimizer__steps=npy((10**12,), "<i8", bytes(8))),
         "declares shape"),
    Case("config declaring 897 MiB of weights", lambda tmp: declaring(
        checkpoint_file(tmp / "g.npz"), tmp / "c.npz", DENSE_300K, "config/model"),
        "the stored model config is larger than the stored weights"),
    Case("a FIFO", fifo("c.npz"), "is a FIFO (named pipe)"),
]


@pytest.mark.parametrize("case", sampled(CHECKPOINT_CASES))
def test_bad_checkpoints(tmp_path: Path, case: Case) -> None:
    path = case.build(tmp_path)
    with pytest.raises(ln.ModelFileError) as caught, deadline():
        ln.load_checkpoint(path)
    message = str(caught.value)
    assert "c.npz" in message and case.expect in message and "\n" not in message
    assert "learning rate" not in message.replace("learning rate (", "")


def test_a_damaged_checkpoint_is_named_when_resuming(run_cli: RunCli, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("train", _config(tmp_path), "--out", run, "--quiet", "--no-plots").returncode == 0
    last = run / "checkpoints" / "last.npz"
    good = last.read_bytes()
    last.unlink()
    (tmp_path / "good.npz").write_bytes(good)
    replace_members(tmp_path / "good.npz", last,
                    **{"weights__layers.0.bias": array_npy(np.full(10, np.nan, np.float32))})
    (tmp_path / "good.npz").unlink()
    line = run_and_check(run_cli, tmp_path, ["train", run / "config.yaml", "--resume", run, "--epochs", "3",
                                             "--quiet", "--no-plots"], "last.npz", "NaN or infinite")
    assert "lower the learning rate" not in line


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(CONFIG)
    return path


# -- command-line arguments -------------------------------------------------------------------------
ArgvBuild = Callable[[Path], list[str | Path]]
ARGUMENT_CASES: list[tuple[str, ArgvBuild, str]] = [
    ("unknown command", lambda tmp: ["trian"], "invalid choice"),
    ("epochs not a number", lambda tmp: ["train", _config(tmp), "--epochs", "ten"], "invalid int value"),
    ("zero epochs", lambda tmp: ["train", _config(tmp), "--epochs", "0", "--out", tmp / "run"], "epochs"),
    ("negative lr", lambda tmp: ["train", _config(tmp), "--lr", "-1", "--out", tmp / "run"], "lr"),
    ("batch size text", lambda tmp: ["train", _config(tmp), "--batch-size", "many", "--out", tmp / "run"],
     "batch_size"),
    ("missing data", lambda tmp: ["train", _config(tmp), "--data", tmp / "nope.npz", "--out", tmp / "run"],
     "nope.npz"),
    ("run folder under a file", lambda tmp: ["train", _config(tmp), "--out",
                                              text(b"x", "afile")(tmp) / "run", "--quiet", "--no-plots"],
     "afile"),
    ("resume a missing run", lambda tmp: ["train", _config(tmp), "--resume", tmp / "absent"],
     "no such run directory"),
    ("evaluate a missing model", lambda tmp: ["evaluate", tmp / "absent.npz"], "absent.npz: no such file"),
    ("evaluate a text file", lambda tmp: ["evaluate", text("x", "notes.txt")(tmp)], "expected a run directory"),
    ("evaluate on data of another shape", lambda tmp: ["evaluate", model_file(tmp / "m.npz"), "--data",
                                                       _small_npz(tmp)], "samples of shape [5] (5 values) cannot feed"),
    ("predict into a folder", lambda tmp: ["predict", model_file(tmp / "m.npz"), data_npz(tmp / "d.npz"),
                                           "--out", (tmp / "out.csv").mkdir() or tmp / "out.csv"],
     "out.csv: Is a directory (that is a folder: give a file name)"),
    ("gradcheck zero entries", lambda tmp: ["gradcheck", _config(tmp), "--max-entries", "0"],
     "must be a positive integer"),
    ("summary of a missing config", lambda tmp: ["summary", tmp / "absent.yaml"], "absent.yaml"),
    ("validate with a missing data file", lambda tmp: ["validate", text(CONFIG.replace(
        "source: sample", "source: gone.csv"), "cfg.yaml")(tmp)], "gone.csv"),
    ("predict into a FIFO", lambda tmp: ["predict", model_file(tmp / "m.npz"), data_npz(tmp / "d.npz"),
                                         "--out", fifo("out.csv")(tmp)], "out.csv: is a FIFO (named pipe)"),
    ("data path too long for the file system", lambda tmp: ["train", _config(tmp), "--data", "d" * 5000,
                                                           "--out", tmp / "run"], "(5,000 characters): File name too long"),
    ("evaluate a run whose metrics.json is a FIFO", lambda tmp: ["evaluate", _run_with(tmp, "metrics.json", fifo)],
     "metrics.json: is a FIFO (named pipe)"),
    ("plot a run whose history.csv holds a NUL", lambda tmp: ["plot", _run_with(
        tmp, "history.csv", lambda name: text(b"epoch,loss\n1,\x00\n", name))],
     "history.csv: not a readable history"),
    ("plot a run whose history.csv has 100,000 columns", lambda tmp: ["plot", _run_with(
        tmp, "history.csv", lambda name: text("epoch," + ",".join(f"c{i}" for i in range(100_000)) + "\n", name))],
     "more than 1000 columns"),
]


def _run_with(tmp: Path, name: str, make: Callable[[str], Build]) -> Path:
    """A finished-looking run directory (config, model) whose file ``name`` is made by ``make``."""
    run = tmp / "run"
    run.mkdir()
    (run / "config.yaml").write_text(CONFIG)
    model_file(run / "model.npz")
    make(name)(run)
    return run


def _small_npz(tmp: Path) -> Path:
    path = tmp / "small.npz"
    np.savez(path, x=np.zeros((3, 5), np.uint8), y=np.zeros(3, np.int64))
    return path


@pytest.mark.parametrize("build, expect", [case[1:] for case in ARGUMENT_CASES],
                         ids=[case[0] for case in ARGUMENT_CASES])
def test_bad_arguments(run_cli: RunCli, tmp_path: Path, build: ArgvBuild, expect: str) -> None:
    argv = build(tmp_path)
    before = listing(tmp_path)
    with deadline():
        result = run_cli(*argv)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and ERROR_LINE.match(line) and expect in line, result.stderr
    assert listing(tmp_path) == before


# -- API calls --------------------------------------------------------------------------------------
API_CASES: list[tuple[str, Callable[[Path], object], type[ln.LayernetError], str]] = [
    ("load_model of a folder", lambda tmp: ln.load_model(tmp), ln.ModelFileError, "is a directory"),
    ("load_model of a missing file", lambda tmp: ln.load_model(tmp / "x.npz"), ln.ModelFileError, "no such file"),
    ("load_model with a NUL in the name", lambda tmp: ln.load_model(str(tmp) + "/a\0b.npz"), ln.ModelFileError,
     "no such file"),
    ("load_checkpoint of a folder", lambda tmp: ln.load_checkpoint(tmp), ln.ModelFileError, "is a directory"),
    ("read_idx of a folder", lambda tmp: read_idx(tmp), ln.DataError, "cannot read"),
    ("read_idx of a missing file", lambda tmp: read_idx(tmp / "x.gz"), ln.DataError, "no such file"),
    ("read_kaggle_csv of a folder", lambda tmp: read_kaggle_csv(tmp), ln.DataError, "is a directory"),
    ("read_kaggle_csv of a missing file", lambda tmp: read_kaggle_csv(tmp / "x.csv"), ln.DataError, "no such file"),
    ("load_npz of a folder", lambda tmp: load_npz(tmp), ln.DataError, "is a directory"),
    ("load_npz of a missing file", lambda tmp: load_npz(tmp / "x.npz"), ln.DataError, "no such file"),
    ("load_run_config with a NUL", lambda tmp: load_run_config("model: {}\nx: \0\n"), ln.ConfigError, "U+0000"),
    ("save a model over a folder", lambda tmp: ln.save_model(ln.Sequential([ln.Dense(2)], input_shape=(3,)),
                                                             (tmp / "f.npz").mkdir() or tmp / "f.npz"),
     ln.ModelFileError, "that is a folder"),
    ("save a model in a missing folder", lambda tmp: ln.save_model(
        ln.Sequential([ln.Dense(2)], input_shape=(3,)), tmp / "no" / "f.npz"), ln.ModelFileError,
     "check the folder exists"),
    ("load_mnist_dir of a file", lambda tmp: load_mnist_dir(text("x", "f")(tmp)), ln.DataError,
     "no such directory"),
    ("load_model of a number", lambda tmp: ln.load_model(123), ln.ModelFileError,  # type: ignore[arg-type]
     "expected a file path, got int"),
    ("load_run_config of None", lambda tmp: load_run_config(None), ln.ConfigError,  # type: ignore[arg-type]
     "expected a file path or YAML text, got NoneType"),
    ("load_model of a FIFO", lambda tmp: ln.load_model(fifo("m.npz")(tmp)), ln.ModelFileError, "is a FIFO"),
    ("load_run_config of a FIFO", lambda tmp: load_run_config(fifo("c.yaml")(tmp)), ln.ConfigError, "is a FIFO"),
    ("read_idx of a FIFO", lambda tmp: read_idx(fifo("i.gz")(tmp)), ln.DataError, "is a FIFO"),
    ("read_kaggle_csv of /dev/zero", lambda tmp: read_kaggle_csv(symlink("z.csv", "/dev/zero")(tmp)),
     ln.DataError, "is a character device"),
    ("load_npz of a FIFO", lambda tmp: load_npz(fifo("d.npz")(tmp)), ln.DataError, "is a FIFO"),
    ("save a model into a FIFO", lambda tmp: ln.save_model(ln.Sequential([ln.Dense(2)], input_shape=(3,)),
                                                           fifo("f.npz")(tmp)), ln.ModelFileError, "is a FIFO"),
    ("a model of 2.9 TiB", lambda tmp: ln.Sequential([ln.Dense(10**9)], input_shape=(784,)), ln.ModelSizeError,
     "layer [0] Dense: the model needs at least 2.9 TiB of parameters"),
    ("an initializer giving infinite weights", lambda tmp: ln.Sequential(
        [ln.Dense(3, init={"type": "normal", "std": 1e308})], input_shape=(4,)), ln.InvalidArgument,
     "init must be an initializer that gives finite values"),
    ("predict on complex numbers", lambda tmp: ln.Sequential([ln.Dense(2)], input_shape=(3,)).predict(
        np.zeros((2, 3), complex)), ln.InvalidArgument, "x must be an array of real numbers (booleans, integers or floats), got 'a complex128"),
    ("predict on objects", lambda tmp: ln.Sequential([ln.Dense(2)], input_shape=(3,)).predict(
        np.array([[object()] * 3])), ln.InvalidArgument, "got 'a object array'"),
    ("from_config of a malformed config", lambda tmp: ln.Sequential.from_config({"layers": 3}),
     ln.InvalidArgument, "config must be a mapping whose 'layers' is a list"),
]


@pytest.mark.parametrize("call, error, expect", [case[1:] for case in API_CASES],
                         ids=[case[0] for case in API_CASES])
def test_bad_api_calls(tmp_path: Path, call: Callable[[Path], object], error: type[ln.LayernetError],
                       expect: str) -> None:
    with pytest.raises(error) as caught, deadline():
        call(tmp_path)
    assert expect in str(caught.value) and "\n" not in str(caught.value)
    assert not [path for path in tmp_path.rglob("*.part")]


def test_the_catalogue_has_at_least_100_cases() -> None:
    total = (len(CONFIG_CASES) + len(BUILD_CASES) + len(IDX_CASES) + len(CSV_CASES) + len(NPZ_CASES)
             + len(MODEL_CASES) + len(CHECKPOINT_CASES) + len(ARGUMENT_CASES) + len(API_CASES))
    assert total >= 100, total
