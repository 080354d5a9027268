"""Checking YAML values against Python type hints, Thinc-style.

``accepts(10, float)`` is true (an integer is a fine number) but
``accepts(True, int)``, ``accepts(10.5, int)`` and ``accepts("ten", int)`` are
false. Hints the checker does not understand accept anything; the
constructor then has the last word.
"""

from __future__ import annotations

import math

import collections.abc
import dataclasses
import json
import types
import typing
from typing import Any, Literal, Union

from ..initializers import Initializer

_LISTS = {list, collections.abc.Sequence, collections.abc.Iterable, collections.abc.Collection}
_MAPPINGS = {dict, collections.abc.Mapping}
_UNIONS = {Union, types.UnionType}
_NAMES = {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}
_EXAMPLES: dict[type, Any] = {bool: True, int: 10, float: 0.5, str: "text"}


def accepts(value: Any, hint: Any) -> bool:
    """Whether a YAML ``value`` fits the type ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in _UNIONS:
        return any(accepts(value, arg) for arg in args)
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if origin is tuple:
        return isinstance(value, list) and _tuple_accepts(value, args)
    if origin in _LISTS:
        return isinstance(value, list) and all(accepts(item, args[0] if args else Any) for item in value)
    if origin in _MAPPINGS:
        key_hint, value_hint = args if args else (Any, Any)
        return isinstance(value, dict) and all(
            accepts(k, key_hint) and accepts(v, value_hint) for k, v in value.items())
    if hint in (int, float):
        number = isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def describe(hint: Any) -> str:
    """A short name for ``hint`` in messages and docs: ``int``, ``list of int``, ``int or 'full'``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if is_initializer(hint):
        return "initializer"
    if origin in _UNIONS:
        return " or ".join(dict.fromkeys(describe(arg) for arg in args))
    if origin is Literal:
        return " or ".join(repr(arg) for arg in args)
    if origin is tuple or origin in _LISTS:
        return f"list of {describe(args[0])}" if args else "list"
    if origin in _MAPPINGS:
        return "mapping"
    if dataclasses.is_dataclass(hint):
        return f"mapping ({getattr(hint, '__name__', 'fields')})"
    if hint is Any:
        return "any"
    if hint is None or hint in _NAMES:
        return _NAMES[hint or type(None)]
    return getattr(hint, "__name__", str(hint))


def example(hint: Any, default: Any = None) -> str:
    """A value fitting ``hint`` written as YAML: ``default`` when it fits, else a typical one."""
    if default is not None and accepts(default, hint):
        return json.dumps(default)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if is_initializer(hint):
        return "glorot_uniform"
    if dataclasses.is_dataclass(hint):
        return "{}"
    if origin in _UNIONS:
        return example(next((arg for arg in args if arg is not type(None)), Any))
    if origin is Literal:
        return json.dumps(args[0])
    if origin is tuple or origin in _LISTS:
        return f"[{example(args[0]) if args else 1}]"
    return json.dumps(_EXAMPLES[hint]) if hint in _EXAMPLES else "..."


def coerce(value: Any, hint: Any) -> Any:
    """``value`` as the hint's type where YAML is looser: an integer given for a float becomes a float."""
    arms = typing.get_args(hint) if typing.get_origin(hint) in _UNIONS else (hint,)
    numbers = [arm for arm in arms if arm is not type(None)]
    if numbers == [float] and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def is_initializer(hint: Any) -> bool:
    """Whether ``hint`` names an initialiser (``Initializer`` or a union containing it)."""
    return hint is Initializer or Initializer in typing.get_args(hint)


def _tuple_accepts(value: list[Any], args: tuple[Any, ...]) -> bool:
    if len(args) == 2 and args[1] is Ellipsis:
        return all(accepts(item, args[0]) for item in value)
    return len(value) == len(args) and all(accepts(v, a) for v, a in zip(value, args))
