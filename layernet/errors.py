"""The exceptions layernet raises for problems a user can fix.

Every user-facing failure is a :class:`LayernetError`; the command line turns
one into a single line on stderr and exit code 2.
"""

from __future__ import annotations

from collections.abc import Sequence


class LayernetError(Exception):
    """Base class of every error layernet raises for a problem the user can fix."""


class ConfigError(LayernetError):
    """A network or run configuration is invalid.

    Args:
        message: what is wrong.
        path: the key path inside the config, e.g. ``model.layers[2].units``.
        line: 1-based line in the YAML text, when known.
        column: 1-based column in the YAML text, when known.
        hint: how to fix it, e.g. ``did you mean 'Dense'?``.
        source: the file the config came from, when known.
        problems: every problem found in one pass, when there are several;
            this error describes the first and its text counts the rest.

    Attributes:
        problems: the individual errors (``[self]`` when there is only one).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        line: int | None = None,
        column: int | None = None,
        hint: str = "",
        source: str = "",
        problems: Sequence[ConfigError] = (),
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.hint = hint
        self.source = source
        self.problems: list[ConfigError] = list(problems) or [self]
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.source
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{self.path}: {self.message}" if self.path else self.message
        if where:
            text = f"{where}: {text}"
        if self.hint:
            text += f" ({self.hint})"
        if len(self.problems) > 1:
            more = len(self.problems) - 1
            text += f" [+{more} more problem{'s' if more > 1 else ''}]"
        return text


class DataError(LayernetError, ValueError):
    """A data file or array is missing, malformed or does not fit the model (also a ``ValueError``)."""


class ModelFileError(LayernetError):
    """A saved model or checkpoint file is corrupt, truncated or does not match."""


class ShapeError(LayernetError):
    """An input shape does not fit a layer (raised while building a model)."""
