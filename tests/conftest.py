"""Shared fixtures: paths to the repository and to the real MNIST files, and the in-process CLI."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _import_numpy_with_one_blas_thread() -> None:
    """Load OpenBLAS single-threaded for this test process (unless OPENBLAS_NUM_THREADS is set).

    The tests multiply small matrices (batches of 32-256 rows by 784x10 weights), where
    OpenBLAS's worker threads cost far more than they save: on a 2-core machine one
    epoch of the quick-start config took 0.7 s with the default threads and 0.15 s with
    one. OpenBLAS reads the variable once, when numpy loads it, so it is set only for
    that import and then removed again: child processes the tests start (the console
    script, the benchmark script) see the environment unchanged.
    """
    if "numpy" in sys.modules or "OPENBLAS_NUM_THREADS" in os.environ:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]


_import_numpy_with_one_blas_thread()

from layernet.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The canonical MNIST IDX files live beside the repository in ../shared/data/mnist.
MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"
#: The README's quick-start config, the one the CLI tests train.
ADAM_CONFIG = REPO_ROOT / "configs" / "digits-784-10-10-adam.yaml"


def interruptible() -> None:
    """``preexec_fn`` for a child that a test stops with SIGINT, as Ctrl-C would: Ctrl-C reaches
    it even when the test itself runs in the background (``cmd &``, nohup), where SIGINT is
    ignored and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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


# -- the command line, in-process ---------------------------------------------------------------

@dataclass(frozen=True)
class CliResult:
    """What a ``layernet`` run left: its exit code and everything it wrote."""

    returncode: int
    stdout: str
    stderr: str


#: ``run_cli(*argv, cwd=None)``: run ``layernet argv`` in this process.
RunCli = Callable[..., CliResult]

#: Warnings a fresh ``python`` does not print (its default filters); every other one would reach stderr.
_SILENT_BY_DEFAULT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def call_main(argv: list[str]) -> tuple[int, str]:
    """``layernet.cli.main(argv)`` as a process would end it: (exit code, warnings it would print).

    argparse's ``--help``, ``--version`` and usage errors raise :class:`SystemExit`; its
    code becomes the exit code as the interpreter would make it. Warnings are recorded
    and returned formatted as Python prints them on stderr, so a stray warning still
    breaks a "one clean line on stderr" assertion as it would in a real process.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in _SILENT_BY_DEFAULT:
            warnings.simplefilter("ignore", category)
        try:
            code = main(argv)
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
            else:  # sys.exit("message"): the message on stderr and status 1
                return 1, f"{stop.code}\n"
    printed = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line)
                      for w in caught if not issubclass(w.category, _SILENT_BY_DEFAULT))
    return code, printed


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path) -> RunCli:
    """Run ``layernet`` in-process through ``main(argv)``; working directory ``cwd`` (default tmp_path).

    Standard output and error are captured with ``capsys`` (not a terminal, as
    when piped). An exception that escapes ``main`` fails the test with its
    traceback, as it would print one in a real process.
    """

    def run(*args: str | Path, cwd: Path | None = None) -> CliResult:
        monkeypatch.chdir(cwd or tmp_path)
        capsys.readouterr()
        code, printed_warnings = call_main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err + printed_warnings)

    return run


def train_in(folder: Path, *args: str | Path) -> Path:
    """``layernet train ARGS --out folder/run`` in-process, in ``folder``; asserts it succeeded
    without a warning and returns the run directory. For fixtures shared by a module or session."""
    directory = folder / "run"
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        code, printed_warnings = call_main(["train", *map(str, args), "--out", str(directory)])
    finally:
        os.chdir(cwd)
    assert code == 0 and not printed_warnings, printed_warnings
    return directory


@pytest.fixture(scope="session")
def _trained_run_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_in(tmp_path_factory.mktemp("trained"), ADAM_CONFIG, "--epochs", "2")


@pytest.fixture
def trained_run(_trained_run_session: Path) -> Iterator[Path]:
    """One 2-epoch ``layernet train`` of the quick-start config (with plots), shared by the
    whole session; tests only read it (copy it with :func:`copy_run` to change it).

    After each test the run is checked to be unchanged, so a test that writes to it fails.
    """
    before = _snapshot(_trained_run_session)
    yield _trained_run_session
    assert _snapshot(_trained_run_session) == before, "a test changed the shared trained run"


def copy_run(run: Path, into: Path) -> Path:
    """A private copy of the run directory ``run`` at ``into/run``."""
    return Path(shutil.copytree(run, into / "run"))


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(directory.rglob("*"))}
