"""``mypy --strict`` on a user's script against an installed layernet, as a user runs it.

The script is ``examples/custom_layers.py`` copied to a folder outside the repository, so
mypy can only find layernet where it was installed. Beside it, ``wrong.py`` passes a string
as ``Dense``'s ``units``: mypy must report exactly that, which proves it read layernet's own
types (``py.typed``) rather than treating the package as untyped.

Two installs are checked (docs/getting-started.md, "Type-checking your own scripts"):

* a plain install (a wheel built from this checkout, installed into a folder on
  ``PYTHONPATH``), what ``pip install .`` or ``pip install layernet`` give;
* an editable install with ``--config-settings editable_mode=compat`` into a fresh virtual
  environment; the default editable install (an import hook) is shown not to be found.

Both build from a copy of the package (pip would write ``build/`` into the checkout) without
network access (``--no-build-isolation``, with the ``dev`` extra's setuptools). About 30 s
together, so they are slow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytest.importorskip("mypy")
pytest.importorskip("setuptools", minversion="70.1")  # builds wheels without the 'wheel' package

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
WRONG = 'import layernet as ln\n\nlayer = ln.Dense("ten")\n'
NOT_FOUND = 'Cannot find implementation or library stub for module named "layernet"'


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``source/`` (what pip needs to build layernet), ``user/`` (the scripts)
    and a mypy cache shared by the tests."""
    root = tmp_path_factory.mktemp("typing")
    source = root / "source"
    shutil.copytree(REPO / "layernet", source / "layernet", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    user = root / "user"
    user.mkdir()
    shutil.copy(REPO / "examples" / "custom_layers.py", user / "custom_layers.py")
    (user / "wrong.py").write_text(WRONG, encoding="utf-8")
    return root


def pip_install(python: str | Path, *args: str | Path) -> None:
    """``pip install`` without dependencies or network, run by ``python``."""
    command = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
               "--no-index", *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def mypy_strict(work: Path, *options: str, env: dict[str, str] | None = None) -> str:
    """``mypy --strict custom_layers.py wrong.py`` from the user's folder; its report."""
    command = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(work / "cache"), *options,
               "custom_layers.py", "wrong.py"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=work / "user", timeout=600,
                          env={**os.environ, "PYTHONPATH": "", **(env or {})})
    return done.stdout + done.stderr


def assert_only_the_planted_error(report: str) -> None:
    errors = [line for line in report.splitlines() if ": error:" in line]
    assert len(errors) == 1, report
    assert errors[0].startswith("wrong.py:3:") and '"Dense" has incompatible type "str"' in errors[0], report


def test_mypy_strict_checks_a_script_against_a_plain_install(work: Path) -> None:
    site = work / "site"
    pip_install(sys.executable, "--target", site, work / "source")
    assert (site / "layernet" / "py.typed").is_file()
    assert_only_the_planted_error(mypy_strict(work, env={"PYTHONPATH": str(site)}))


def test_mypy_strict_finds_an_editable_install_in_compat_mode_only(work: Path) -> None:
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # pip, setuptools and numpy come from the environment running the tests
    Path(purelib, "with_test_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    target = ("--python-executable", str(python))
    pip_install(python, "--editable", work / "source")
    assert NOT_FOUND in mypy_strict(work, *target)  # the default editable install: an import hook
    pip_install(python, "--editable", work / "source", "--config-settings", "editable_mode=compat")
    assert_only_the_planted_error(mypy_strict(work, *target))
