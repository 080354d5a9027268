"""A parsed config with the YAML position of every key and value, and the problem collector.

Values are plain Python (``dict``, ``list``, ``str``, ``int``, ``float``,
``bool``, ``None``); positions live beside them, keyed by *key paths* such as
``("model", "layers", 2, "units")``, which print as ``model.layers[2].units``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

#: A key path into a config: mapping keys (str) and list indices (int).
KeyPath = tuple[str | int, ...]
#: A 1-based ``(line, column)`` position in the YAML text.
Mark = tuple[int, int]

_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: KeyPath) -> str:
    """``("model", "layers", 2, "units")`` -> ``"model.layers[2].units"``.

    Keys that are not plain words are quoted: ``model['two words']``.
    """
    text = ""
    for part in path:
        if isinstance(part, int) or not _WORD.match(part):
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass
class Document:
    """A config value tree and where each of its parts was written.

    Attributes:
        data: the plain value tree.
        source: the file name, or ``"<string>"`` for YAML text.
        value_marks: position of the value at each key path.
        key_marks: position of the mapping key that ends each key path.
        labels: display names replacing key paths in messages (e.g. a
            command-line flag such as ``--lr`` for ``optimizer.lr``).
    """

    data: Any
    source: str = "<string>"
    value_marks: dict[KeyPath, Mark] = field(default_factory=dict)
    key_marks: dict[KeyPath, Mark] = field(default_factory=dict)
    labels: dict[KeyPath, str] = field(default_factory=dict)

    def locate(self, path: KeyPath, *, at_key: bool = False) -> Mark | None:
        """The position of ``path`` (its key when ``at_key``), else of its nearest written parent."""
        if at_key and path in self.key_marks:
            return self.key_marks[path]
        for end in range(len(path), -1, -1):
            mark = self.value_marks.get(path[:end])
            if mark is not None:
                return mark
        return None

    def label(self, path: KeyPath) -> str:
        """How ``path`` is named in messages: the label of ``path`` or of its nearest
        labelled parent (``--set model.layers[0]`` + ``.units``), else its key path."""
        for end in range(len(path), 0, -1):
            label = self.labels.get(path[:end])
            if label is not None:
                rest = format_path(("_", *path[end:]))[1:]
                return label + rest
        return format_path(path)

    def labelled(self, path: KeyPath) -> bool:
        """Whether ``path`` or one of its parents was set from outside the text (a flag)."""
        return any(path[:end] in self.labels for end in range(len(path), 0, -1))


class Problems:
    """Collects the problems of one document so a single pass reports them all.

    Args:
        document: the document the key paths refer to.
    """

    def __init__(self, document: Document) -> None:
        self.document = document
        self.found: list[ConfigError] = []

    def add(self, path: KeyPath, message: str, hint: str = "", *, at_key: bool = False) -> None:
        """Record that the value at ``path`` (or its key, when ``at_key``) is wrong."""
        self.found.append(self.error(path, message, hint, at_key=at_key))

    def error(self, path: KeyPath, message: str, hint: str = "", *, at_key: bool = False) -> ConfigError:
        """A :class:`ConfigError` for ``path`` with its line and column."""
        mark = None if self.document.labelled(path) else self.document.locate(path, at_key=at_key)
        line, column = mark if mark is not None else (None, None)
        return ConfigError(message, path=self.document.label(path), line=line, column=column,
                           hint=hint, source=self.document.source)

    def count(self) -> int:
        """How many problems have been recorded so far."""
        return len(self.found)

    def raise_if_any(self) -> None:
        """Raise one :class:`ConfigError` carrying every recorded problem, earliest line first."""
        if self.found:
            raise combine(sorted(self.found, key=_position))


def combine(problems: Sequence[ConfigError]) -> ConfigError:
    """One error describing ``problems[0]`` whose ``problems`` attribute lists them all."""
    if len(problems) == 1:
        return problems[0]
    first = problems[0]
    return ConfigError(first.message, path=first.path, line=first.line, column=first.column,
                       hint=first.hint, source=first.source, problems=problems)


def one_line(text: object) -> str:
    """``str(text)`` with every run of whitespace (newlines included) as one space."""
    return " ".join(str(text).split())


def _position(error: ConfigError) -> tuple[int, int]:
    return (error.line if error.line is not None else 1 << 30, error.column or 0)
