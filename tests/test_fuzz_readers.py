"""Fuzzers for every reader: mutated valid files load or raise a LayernetError, nothing else.

Each reader gets the bytes of a valid file mutated by Hypothesis (bytes flipped,
inserted, deleted, overwritten, the file cut short; for archives also one member's
bytes mutated and the archive rebuilt, so the zip checksums hold and the mutation
reaches the ``.npy`` headers and the JSON). 200 examples each in the quick suite,
2,000 each in the ``slow`` variants.
"""

from __future__ import annotations

import functools
import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hostile_support import CONFIG, checkpoint_file, data_npz, digits, kaggle_csv, members_of, model_file

import layernet as ln
from layernet.config import load_run_config
from layernet.config.text import parse_document
from layernet.data import load_npz
from layernet.data.csv import read_kaggle_csv
from layernet.data.idx import read_idx, write_idx

QUICK = settings(max_examples=200, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck))
SLOW = settings(QUICK, max_examples=2000)

Mutation = tuple[str, int, bytes]
MUTATIONS = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete", "overwrite", "truncate"]),
                               st.integers(0, 2**31), st.binary(min_size=1, max_size=12)),
                     min_size=1, max_size=4)


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    """``data`` with each mutation applied at ``position`` modulo the current length."""
    out = bytearray(data)
    for operation, position, payload in mutations:
        at = position % (len(out) + 1)
        if operation == "flip" and out:
            at %= len(out)
            out[at] ^= payload[0] or 0xFF
        elif operation == "insert":
            out[at:at] = payload
        elif operation == "delete":
            del out[at:at + len(payload) * 8]
        elif operation == "overwrite":
            out[at:at + len(payload)] = payload
        elif operation == "truncate":
            del out[at:]
    return bytes(out)


@functools.cache
def _valid_files(folder: str) -> dict[str, bytes]:
    tmp = Path(folder)
    x, y = digits(3)
    write_idx(tmp / "images.gz", x)
    write_idx(tmp / "images.raw", x, compress=False)
    return {"images.gz": (tmp / "images.gz").read_bytes(), "images.raw": (tmp / "images.raw").read_bytes(),
            "csv": kaggle_csv(tmp / "d.csv", n=3).read_bytes(),
            "npz": data_npz(tmp / "d.npz", n=6).read_bytes(),
            "model": model_file(tmp / "m.npz").read_bytes(),
            "checkpoint": checkpoint_file(tmp / "c.npz").read_bytes()}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _valid_files(str(tmp_path_factory.mktemp("valid")))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def only_layernet_errors(call: Callable[[], Any]) -> None:
    """Run ``call``; a LayernetError with a one-line message is fine, any other exception fails."""
    try:
        call()
    except ln.LayernetError as error:
        assert "\n" not in str(error), str(error)


def rezip(original: bytes, member: int, mutations: list[Mutation], path: Path) -> None:
    """``original`` (a zip) with member number ``member`` mutated, rebuilt with valid checksums."""
    path.write_bytes(original)
    members = members_of(path)
    names = list(members)
    name = names[member % len(names)]
    members[name] = mutate(members[name], mutations)
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in members.items():
            archive.writestr(key, value)


ARCHIVES = st.tuples(st.booleans(), st.integers(0, 100), MUTATIONS)


def write_archive_case(original: bytes, case: tuple[bool, int, list[Mutation]], path: Path) -> None:
    by_member, member, mutations = case
    if by_member:
        rezip(original, member, mutations, path)
    else:
        path.write_bytes(mutate(original, mutations))


# -- the fuzz bodies, shared by the quick and slow variants ------------------------------------------
def config_body(mutations: list[Mutation], as_text: bool) -> None:
    data = mutate(CONFIG.encode(), mutations)
    if as_text:
        text = data.decode("utf-8", "replace")
        only_layernet_errors(lambda: parse_document(text))
        only_layernet_errors(lambda: load_run_config(text + "\n"))


def idx_body(files: dict[str, bytes], folder: Path, mutations: list[Mutation], compressed: bool) -> None:
    original = files["images.gz" if compressed else "images.raw"]
    path = folder / "images"
    if compressed and mutations[0][0] == "flip":  # also mutate inside the gzip stream
        data = gzip.compress(mutate(gzip.decompress(original), mutations), mtime=0)
    else:
        data = mutate(original, mutations)
    path.write_bytes(data)
    only_layernet_errors(lambda: read_idx(path))


def csv_body(files: dict[str, bytes], folder: Path, mutations: list[Mutation]) -> None:
    path = folder / "d.csv"
    path.write_bytes(mutate(files["csv"], mutations))
    only_layernet_errors(lambda: read_kaggle_csv(path))


def npz_body(files: dict[str, bytes], folder: Path, case: tuple[bool, int, list[Mutation]]) -> None:
    path = folder / "d.npz"
    write_archive_case(files["npz"], case, path)
    only_layernet_errors(lambda: load_npz(path))


def model_body(files: dict[str, bytes], folder: Path, case: tuple[bool, int, list[Mutation]]) -> None:
    path = folder / "m.npz"
    write_archive_case(files["model"], case, path)
    only_layernet_errors(lambda: ln.load_model(path))
    only_layernet_errors(lambda: ln.io.models.load_preprocessing(path))


def checkpoint_body(files: dict[str, bytes], folder: Path, case: tuple[bool, int, list[Mutation]]) -> None:
    path = folder / "c.npz"
    write_archive_case(files["checkpoint"], case, path)
    only_layernet_errors(lambda: ln.load_checkpoint(path))


# -- quick variants (200 examples each) --------------------------------------------------------------
@QUICK
@given(MUTATIONS)
def test_fuzz_config_text(mutations: list[Mutation]) -> None:
    config_body(mutations, True)


@QUICK
@given(mutations=MUTATIONS, compressed=st.booleans())
def test_fuzz_idx(files: dict[str, bytes], folder: Path, mutations: list[Mutation], compressed: bool) -> None:
    idx_body(files, folder, mutations, compressed)


@QUICK
@given(mutations=MUTATIONS)
def test_fuzz_csv(files: dict[str, bytes], folder: Path, mutations: list[Mutation]) -> None:
    csv_body(files, folder, mutations)


@QUICK
@given(case=ARCHIVES)
def test_fuzz_npz(files: dict[str, bytes], folder: Path, case: tuple[bool, int, list[Mutation]]) -> None:
    npz_body(files, folder, case)


@QUICK
@given(case=ARCHIVES)
def test_fuzz_model_file(files: dict[str, bytes], folder: Path, case: tuple[bool, int, list[Mutation]]) -> None:
    model_body(files, folder, case)


@QUICK
@given(case=ARCHIVES)
def test_fuzz_checkpoint(files: dict[str, bytes], folder: Path, case: tuple[bool, int, list[Mutation]]) -> None:
    checkpoint_body(files, folder, case)


# -- slow variants (2,000 examples each) -------------------------------------------------------------
@pytest.mark.slow
@SLOW
@given(MUTATIONS)
def test_fuzz_config_text_slow(mutations: list[Mutation]) -> None:
    config_body(mutations, True)


@pytest.mark.slow
@SLOW
@given(mutations=MUTATIONS, compressed=st.booleans())
def test_fuzz_idx_slow(files: dict[str, bytes], folder: Path, mutations: list[Mutation], compressed: bool) -> None:
    idx_body(files, folder, mutations, compressed)


@pytest.mark.slow
@SLOW
@given(mutations=MUTATIONS)
def test_fuzz_csv_slow(files: dict[str, bytes], folder: Path, mutations: list[Mutation]) -> None:
    csv_body(files, folder, mutations)


@pytest.mark.slow
@SLOW
@given(case=ARCHIVES)
def test_fuzz_npz_slow(files: dict[str, bytes], folder: Path, case: tuple[bool, int, list[Mutation]]) -> None:
    npz_body(files, folder, case)


@pytest.mark.slow
@SLOW
@given(case=ARCHIVES)
def test_fuzz_model_file_slow(files: dict[str, bytes], folder: Path,
                              case: tuple[bool, int, list[Mutation]]) -> None:
    model_body(files, folder, case)


@pytest.mark.slow
@SLOW
@given(case=ARCHIVES)
def test_fuzz_checkpoint_slow(files: dict[str, bytes], folder: Path,
                              case: tuple[bool, int, list[Mutation]]) -> None:
    checkpoint_body(files, folder, case)


def test_mutate_is_deterministic() -> None:
    assert mutate(b"abcdef", [("flip", 0, b"\x01"), ("truncate", 4, b"x")]) == b"`bcd"
    assert np.frombuffer(mutate(b"\0\0", [("insert", 1, b"\x05")]), np.uint8).tolist() == [0, 5, 0]
