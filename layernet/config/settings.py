"""Checking a mapping against a settings dataclass (``train``, ``data``, ``model`` fields).

The dataclass is the schema: field names, type hints, defaults and the
``metadata`` ranges ``min``, ``max`` and ``max_exclusive``. A field whose type
is itself a dataclass (``early_stopping``) is checked recursively.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from .arguments import REQUIRED, Argument, Signature, check_arguments
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
    for key, item in checked.items():
        _check_range(problems, (*path, key), cls, key, item)
    return cls(**checked) if problems.count() == before else None


def settings_signature(cls: type, owner: str = "") -> Signature:
    """The fields of dataclass ``cls`` as a :class:`Signature` named ``owner`` (default: the class)."""
    hints = typing.get_type_hints(cls)
    arguments = {}
    for item in _fields(cls):
        default = item.default if item.default is not dataclasses.MISSING else REQUIRED
        arguments[item.name] = Argument(item.name, hints[item.name], default)
    return Signature(owner or cls.__name__, arguments, noun="key")


def range_text(cls: type, name: str) -> str:
    """The ``metadata`` range of field ``name`` as text: ``>= 1``, ``>= 0.0, < 1.0``, or ''."""
    metadata = _field(cls, name).metadata
    parts = [f">= {metadata['min']}" if "min" in metadata else "",
             f"<= {metadata['max']}" if "max" in metadata else "",
             f"< {metadata['max_exclusive']}" if "max_exclusive" in metadata else ""]
    return ", ".join(part for part in parts if part)


def _nested(problems: Problems, path: KeyPath, cls: type, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` with the mappings of dataclass-typed fields built into those dataclasses."""
    hints = typing.get_type_hints(cls)
    result = dict(value)
    for key, item in value.items():
        inner = _dataclass_in(hints.get(key))
        if inner is not None and isinstance(item, dict):
            result[key] = check_settings(problems, (*path, key), inner, item)
    return result


def _check_range(problems: Problems, path: KeyPath, cls: type, name: str, value: Any) -> None:
    numbers = value if isinstance(value, list) else [value]
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
        return
    limits = _field(cls, name).metadata
    bad = [n for n in numbers if ("min" in limits and not n >= limits["min"])
           or ("max" in limits and not n <= limits["max"])
           or ("max_exclusive" in limits and not n < limits["max_exclusive"])]
    if bad:
        problems.add(path, f"{name} must be {range_text(cls, name)}, got {bad[0]!r}",
                     f"e.g. {name}: {limits.get('min', limits.get('max', 0))}")


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
