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


class ModelSizeError(LayernetError, MemoryError):
    """A model's parameters would exceed the memory budget; raised before they are allocated
    (also a ``MemoryError``). See :class:`layernet.parameter.ParameterBudget`."""


class ShapeError(LayernetError, ValueError):
    """An input shape does not fit a layer, or arrays do not fit a model (also a ``ValueError``)."""


class InvalidArgument(LayernetError, ValueError):
    """An argument or setting is outside what it accepts (also a ``ValueError``).

    Raised by :mod:`layernet.checks`; the structured fields let the config layer
    point at the YAML key (``argument``) without reading the message.

    Args:
        argument: the argument's name, e.g. ``"units"`` or ``"betas[1]"``.
        value: the value given.
        requirement: what it must be, e.g. ``"an integer >= 1"``.
        hint: how to fix it, when more than the requirement helps.

    Attributes:
        argument, value, requirement, hint: as given.
    """

    def __init__(self, argument: str, value: object, requirement: str, hint: str = "") -> None:
        self.argument = argument
        self.value = value
        self.requirement = requirement
        self.hint = hint
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        text = f"{argument} must be {requirement}, got {shown}"
        super().__init__(f"{text} ({hint})" if hint else text)


class UnknownNameError(LayernetError, KeyError):
    """A name is not registered in a family (layer, loss, ...); ``hint`` suggests the nearest.

    Attributes:
        kind: the family, e.g. ``"layer"``.
        name: the name looked up.
        hint: a did-you-mean or the list of known names.
    """

    def __init__(self, kind: str, name: str, hint: str) -> None:
        self.kind = kind
        self.name = name
        self.hint = hint
        super().__init__(f"unknown {kind} {name!r}")

    def __str__(self) -> str:
        return f"unknown {self.kind} {self.name!r} ({self.hint})"


class RegistrationError(LayernetError, TypeError):
    """A class cannot be registered: the name is taken, or it is not of the family's base class."""


class PairingError(LayernetError):
    """A model's last layer and its loss do not fit together (e.g. probabilities expected, logits given)."""


class GradientCheckError(LayernetError):
    """An analytic gradient disagrees with its finite-difference estimate."""


class TrainingDivergedError(LayernetError):
    """The training loss became nan or infinite."""


class ExportError(LayernetError):
    """A model cannot be exported (e.g. to ONNX): a layer without an export hook, an unbuilt
    model, a missing optional dependency or an unsupported setting."""


class FileAccessError(LayernetError, OSError):
    """A file or folder cannot be read or written: permission denied, no space left, a folder
    where a file should be, ... (also an ``OSError``, with ``errno`` and ``filename`` set).

    The message names the user's path (never a temporary file) and how to fix it.

    Args:
        path: the file the user asked for.
        reason: what the system said, e.g. ``"Permission denied"``.
        hint: how to fix it.
        errno: the system error number, when known.
    """

    def __init__(self, path: str, reason: str, hint: str, errno: int | None = None) -> None:
        super().__init__(errno, reason, path)
        self.path = path
        self.reason = reason
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.path}: {self.reason} ({self.hint})"
