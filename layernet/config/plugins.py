"""The ``plugins`` section: modules imported so that the classes they register can be named.

Importing runs the module's code, so it happens only with
``allow_plugins=True`` (the ``layernet`` command line passes it). A module
that is already imported in this process is accepted either way: importing it
again runs nothing. Modules are found on ``sys.path`` and then, as with
``python -m``, in the current directory.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .document import KeyPath, Problems, one_line
from .reader import kind_of

_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def load_plugins(problems: Problems, path: KeyPath, value: Any, *, allow: bool) -> list[str]:
    """Check and import the module names at ``path``; the names (problems recorded)."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"plugins must be a list of module names, got {kind_of(value)}",
                     "e.g. plugins: [examples.custom_layers]")
        return []
    names: list[str] = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or not _MODULE.match(name):
            problems.add((*path, index), f"{name!r} is not a module name", "e.g. examples.custom_layers")
        elif _import(problems, (*path, index), name, allow):
            names.append(name)
    return names


def _import(problems: Problems, path: KeyPath, name: str, allow: bool) -> bool:
    if name in sys.modules:
        return True
    if not allow:
        problems.add(path, f"plugin module {name!r} is not imported and importing runs its code",
                     "load with allow_plugins=True to import it (the layernet command line does)")
        return False
    try:
        with _current_directory_on_path():
            importlib.import_module(name)
    except Exception as error:  # a plugin's own failure, whatever it is, is reported at its name
        problems.add(path, f"cannot import plugin {name!r}: {type(error).__name__}: "
                     f"{one_line(error)}",
                     "check the module name and that its folder is on PYTHONPATH")
        return False
    return True


@contextmanager
def _current_directory_on_path() -> Iterator[None]:
    """Let imports fall back to the current directory (last on ``sys.path``) for the duration."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added:
            sys.path.remove(cwd)
