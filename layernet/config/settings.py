"""Checking a mapping against a settings dataclass (``train``, ``data``, ``model`` fields).

The dataclass is the schema: field names, type hints and defaults; its
ranges (declared with :func:`layernet.checks.bounds`) are enforced by the
dataclass itself, and the :class:`~layernet.errors.InvalidArgument` it raises is
placed at the field's key. A field whose type
is itself a dataclass (``early_stopping``) is checked recursively.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from .. import checks
from .arguments import REQUIRED, Argument, Signature, check_arguments, construct
from .document import KeyPath, Problems, format_path
from .reader import kind_of

Settings = TypeVar("Settings")


def check_settings(problems: Problems, path: KeyPath, cls: type[Settings], value: Any) -> Settings | None:
    """Build dataclass ``cls`` from the mapping ``value`` at ``path``; None (recorded) on a problem.

    ``None`` (an empty section) gives the defaults.
    """
    if value is None:
        value = {}
    signature = settings_signature(cls, owner=_owner(path))
    if not isinstance(value, dict):
        problems.add(path, f"{signature.owner} must be a mapping, got {kind_of(value)}",
                     f"write {signature.owner} as keys and values; see docs/yaml-reference.md")
        return None
    before = problems.count()
    checked = check_arguments(problems, path, signature, _nested(problems, path, cls, value))
    if checked is None or problems.count() != before:
        return None
    settings: Settings | None = construct(problems, path, signature, cls, checked, _examples(cls))
    return settings


def settings_signature(cls: type, owner: str = "") -> Signature:
    """The fields of dataclass ``cls`` as a :class:`Signature` named ``owner`` (default: the class)."""
    hints = typing.get_type_hints(cls)
    arguments = {}
    for item in _fields(cls):
        default = item.default if item.default is not dataclasses.MISSING else REQUIRED
        arguments[item.name] = Argument(item.name, hints[item.name], default)
    return Signature(owner or cls.__name__, arguments, noun="key")


def range_text(cls: type, name: str) -> str:
    """The declared range of field ``name`` as text: ``>= 1``, ``>= 0.0 and < 1.0``, or ''."""
    return checks.range_text(_field(cls, name).metadata)


def _nested(problems: Problems, path: KeyPath, cls: type, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` with the mappings of dataclass-typed fields built into those dataclasses."""
    hints = typing.get_type_hints(cls)
    result = dict(value)
    for key, item in value.items():
        inner = _dataclass_in(hints.get(key))
        if inner is not None and isinstance(item, dict):
            result[key] = check_settings(problems, (*path, key), inner, item)
    return result


def _examples(cls: type) -> dict[str, str]:
    """A hint per ranged field: ``e.g. epochs: 1`` (the lowest allowed value, else the highest)."""
    hints = {}
    for item in _fields(cls):
        bound = item.metadata.get("min", item.metadata.get("max"))
        if bound is not None:
            hints[item.name] = f"e.g. {item.name}: {bound}"
    return hints


def _owner(path: KeyPath) -> str:
    """``train``, ``train.early_stopping``; a list item (a repeat block) is named by its kind."""
    return format_path(path) if path and isinstance(path[-1], str) else "the repeat block"


def _fields(cls: type) -> tuple[dataclasses.Field[Any], ...]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    return dataclasses.fields(cls)


def _field(cls: type, name: str) -> dataclasses.Field[Any]:
    return next(item for item in _fields(cls) if item.name == name)


def _dataclass_in(hint: Any) -> type | None:
    for arm in typing.get_args(hint) or (hint,):
        if dataclasses.is_dataclass(arm) and isinstance(arm, type):
            return arm
    return None
