"""Argument checks: each argument's rule is declared once, and a violation is a structured error.

Constructors call these helpers (``self.units = checks.integer("units", units, min=1)``);
settings dataclasses declare their ranges in field metadata with :func:`bounds` and
enforce them with :func:`check_fields`. Every violation raises
:class:`layernet.errors.InvalidArgument`, which carries the argument's name and
value, so the config layer can point at the right YAML key without reading the
message text.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

import numpy as np

from .errors import InvalidArgument

T = TypeVar("T")

#: The ``field(metadata=...)`` keys :func:`check_fields` enforces.
BOUND_KEYS = ("min", "max", "min_open", "max_open")


def integer(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """``value`` as an ``int`` (numpy integers accepted, booleans refused) within ``[min, max]``.

    Raises:
        InvalidArgument: not an integer, or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgument(name, value, "an integer" + _range_text(min, max))
    number = int(value)
    if (min is not None and number < min) or (max is not None and number > max):
        raise InvalidArgument(name, value, "an integer" + _range_text(min, max))
    return number


def number(name: str, value: Any, *, min: float | None = None, max: float | None = None,
           min_open: bool = False, max_open: bool = False) -> float:
    """``value`` as a finite ``float`` within the given bounds (``*_open``: the bound is excluded).

    Raises:
        InvalidArgument: not a real number, not finite, or out of range.
    """
    requirement = "a finite number" + _range_text(min, max, min_open, max_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgument(name, value, requirement)
    result = float(value)
    if not math.isfinite(result) or not _within(result, min, max, min_open, max_open):
        raise InvalidArgument(name, value, requirement)
    return result


def flag(name: str, value: Any) -> bool:
    """``value`` as a ``bool`` (``True``/``False`` or numpy booleans only)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(name, value, "true or false")
    return bool(value)


def one_of(name: str, value: T, choices: Collection[T]) -> T:
    """``value`` when it is one of ``choices``."""
    if value not in choices:
        raise InvalidArgument(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def positive_sizes(name: str, value: Any) -> tuple[int, ...]:
    """A non-empty list of integers ≥ 1 (a shape), as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Collection) or not value:
        raise InvalidArgument(name, value, "a non-empty list of integers >= 1")
    return tuple(integer(f"{name}[{i}]", item, min=1) for i, item in enumerate(value))


def bounds(*, min: float | None = None, max: float | None = None, min_open: bool = False,
           max_open: bool = False) -> dict[str, Any]:
    """Field metadata declaring a settings field's range, e.g. ``field(default=1, metadata=bounds(min=1))``."""
    found: dict[str, Any] = {"min": min, "max": max, "min_open": min_open, "max_open": max_open}
    return {key: value for key, value in found.items() if value is not None and value is not False}


def check_fields(settings: Any) -> None:
    """Check every field of the dataclass instance ``settings`` against its :func:`bounds` metadata.

    Integer fields (annotated ``int``) must hold integers; ``None`` and string
    values (such as ``batch_size: full``) are left to the type check.

    Raises:
        InvalidArgument: the first field out of range.
    """
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        if not any(key in item.metadata for key in BOUND_KEYS) or value is None or isinstance(value, str):
            continue
        limits = {key: item.metadata[key] for key in BOUND_KEYS if key in item.metadata}
        values = value if isinstance(value, (list, tuple)) else [value]
        for element in values:
            if "float" in str(item.type):
                number(item.name, element, **limits)
            else:
                integer(item.name, element, min=limits.get("min"), max=limits.get("max"))


def range_text(metadata: Mapping[str, Any]) -> str:
    """A field's :func:`bounds` as text: ``>= 1``, ``>= 0.0 and < 1.0``, or ``''``."""
    return _range_text(metadata.get("min"), metadata.get("max"), metadata.get("min_open", False),
                       metadata.get("max_open", False)).removeprefix(" ")


def _within(value: float, low: float | None, high: float | None, low_open: bool, high_open: bool) -> bool:
    if low is not None and (value <= low if low_open else value < low):
        return False
    return high is None or (value < high if high_open else value <= high)


def _range_text(low: float | None, high: float | None, low_open: bool = False,
                high_open: bool = False) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return (" " + " and ".join(parts)) if parts else ""

