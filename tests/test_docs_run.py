"""Docs that run: every code block of README.md and docs/*.md, in order, in a fresh directory.

* ``python`` blocks run in one namespace per page (so later blocks use earlier names);
* ``bash``/``console`` blocks run their ``layernet ...`` lines through the CLI in-process
  (a leading ``$ `` is dropped; other commands, such as ``pip install``, are not run);
* a block preceded by ``<!-- docs-test: skip (reason) -->`` is skipped (full MNIST,
  network access, long runs);
* a block preceded by ``<!-- docs-test: write NAME -->`` (a config shown on the page) is
  written to the file ``NAME`` for the blocks after it;
* other ``text`` and ``yaml`` blocks are output and examples.

The directory holds a copy of ``configs/`` and ``examples/``, as the repository root does.
Pages whose blocks train for long (``SLOW_PAGES``) are marked slow.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from layernet import INITIALIZERS, LAYERS, LOSSES, OPTIMIZERS, SCHEDULES
from layernet.cli import main

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: Pages that train several models on the sample (a walk through every command, with plots);
#: every other page runs in a few seconds and is part of the quick suite.
SLOW_PAGES = {"docs/getting-started.md": "trains five runs with plots: about 20 s",
              "docs/trust.md": "trains and resumes runs through the command line: about 5 s"}
_BLOCK = re.compile(r"(?:<!--\s*docs-test:\s*(?P<directive>[^>]*?)\s*-->\s*\n)?```(?P<lang>[a-z]*)\n(?P<code>.*?)```",
                    re.DOTALL)


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, code, line and whether it is marked skipped."""

    lang: str
    code: str
    line: int
    skip: str | None
    write: str | None = None


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, in order."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        directive = match.group("directive")
        skip = directive if directive and directive.startswith("skip") else None
        write = directive.removeprefix("write").strip() if directive and directive.startswith("write ") else None
        found.append(Block(match.group("lang"), match.group("code"), text.count("\n", 0, match.start()) + 1,
                           skip, write))
    return found


def shell_commands(code: str) -> list[list[str]]:
    """The ``layernet`` commands of a shell block (continuation lines joined, comments dropped)."""
    joined = code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = line.strip().removeprefix("$ ")
        if not line.startswith("layernet "):
            continue
        words = shlex.split(line, comments=True)
        if "|" in words:
            words = words[:words.index("|")]
        commands.append([expanded for word in words[1:] for expanded in _glob(word)])
    return commands


def _glob(word: str) -> list[str]:
    """A shell word with ``*`` expanded in the working directory (kept as it is without matches)."""
    if "*" not in word:
        return [word]
    return sorted(str(path) for path in Path().glob(word.rstrip("/"))) or [word]


def run_page(page: Path, directory: Path) -> None:
    for folder in ("configs", "examples"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, directory / folder)
    # The page's Python runs as an importable module, as a script's ``__main__`` would: classes
    # it defines name their module in model YAML (``plugins:``), which must import.
    module = types.ModuleType("docs_" + re.sub(r"\W", "_", page.stem))
    sys.modules[module.__name__] = module
    try:
        # One BLAS thread, as `layernet train` picks for models this small: the pages' own
        # `ln.fit` calls leave the setting alone, and several threads on a busy machine make
        # small matrix products many times slower.
        with threadpool_limits(limits=1, user_api="blas"):
            _run_blocks(page, directory, module.__dict__)
    finally:
        del sys.modules[module.__name__]


def _run_blocks(page: Path, directory: Path, namespace: dict[str, object]) -> None:
    for block in blocks(page):
        if block.skip is not None:
            continue
        where = f"{page.name}:{block.line}"
        if block.write is not None:
            (directory / block.write).write_text(block.code, encoding="utf-8")
        elif block.lang == "python":
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(block.code, where, "exec"), namespace)  # noqa: S102 - the docs' own code
        elif block.lang in ("bash", "console", "sh", "shell"):
            for argv in shell_commands(block.code):
                with contextlib.redirect_stdout(io.StringIO()) as out, \
                        contextlib.redirect_stderr(io.StringIO()) as err:
                    code = _run_cli(argv)
                expected_failure = "error" in block.code.split(" ".join(argv[:1]))[0][-200:]
                assert code == 0 or expected_failure, f"{where}: layernet {shlex.join(argv)} exited {code}:\n{err.getvalue()}{out.getvalue()}"


def _run_cli(argv: list[str]) -> int:
    """``layernet ARGV`` in-process, with the exit status a shell would see (argparse's
    ``--version``, ``--help`` and usage errors end with ``SystemExit``)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)


def _marks(page: Path) -> list[pytest.MarkDecorator]:
    return [pytest.mark.slow] if str(page.relative_to(REPO)) in SLOW_PAGES else []


@pytest.mark.parametrize("page", [pytest.param(page, id=str(page.relative_to(REPO)), marks=_marks(page))
                                  for page in PAGES])
def test_every_block_of_the_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # Each page is read as if in a fresh process: the names it registers (a Swish of its own,
    # or examples.custom_layers imported from this page's directory) are forgotten afterwards.
    # Only layernet's own classes are known, whatever other tests registered before.
    for registry in (LAYERS, LOSSES, OPTIMIZERS, INITIALIZERS, SCHEDULES):
        built_in = {name: cls for name, cls in registry._classes.items()
                    if cls.__module__.split(".")[0] == "layernet"}
        monkeypatch.setattr(registry, "_classes", built_in)
    for module in [name for name in sys.modules if name == "examples" or name.startswith("examples.")]:
        monkeypatch.delitem(sys.modules, module)
    run_page(page, tmp_path)
