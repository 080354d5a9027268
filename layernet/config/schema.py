"""Checking config values against the Python they configure: type hints, signatures, dataclasses.

* :func:`accepts` checks a YAML value against a type hint, Thinc-style (``10`` is a
  fine ``float``; ``True``, ``10.5`` and ``"ten"`` are not ``int``).
* Every registered class (layer, loss, optimiser, initialiser, schedule) is named as
  ``Name`` or ``{type: Name, arg: value, ...}``; its ``__init__`` signature and type
  hints are the schema (:func:`signature_of`, :func:`check_arguments`, :func:`build`).
* A settings section (``train``, ``data``, the ``model`` fields) is checked against
  its dataclass (:func:`check_settings`); ranges are enforced by the dataclass itself.

Problems are recorded in a :class:`~layernet.config.document.Problems` at the key path
they concern; an :class:`~layernet.errors.InvalidArgument` raised by a constructor is
placed at the argument it names (a structured field, never parsed from the message).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import functools
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union

from .. import checks
from ..errors import InvalidArgument, LayernetError, UnknownNameError
from ..initializers import INITIALIZERS, Initializer
from ..registry import Registry
from .document import KeyPath, Problems, format_path, one_line
from .text import kind_of

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


#: The default of an argument that has none.
REQUIRED: Any = inspect.Parameter.empty
#: Exceptions a constructor raises for a bad value; they become ConfigErrors.
CONSTRUCTOR_ERRORS = (ValueError, TypeError, ArithmeticError, LookupError, LayernetError)


@dataclass(frozen=True)
class Argument:
    """One constructor argument: its name, type hint (``Any`` when unknown) and default."""

    name: str
    hint: Any
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        """Whether the config must give it."""
        return self.default is REQUIRED


@dataclass(frozen=True)
class Signature:
    """The arguments a class accepts from a config.

    Attributes:
        owner: the class name used in messages.
        arguments: by name, in declaration order.
        open: whether it also takes ``**kwargs`` (unknown names are then allowed).
        noun: what an argument is called in messages (``argument``, ``key``).
    """

    owner: str
    arguments: dict[str, Argument]
    open: bool = False
    noun: str = "argument"


@functools.cache
def _type_hints(target: object) -> dict[str, Any]:
    """``typing.get_type_hints(target)``, resolved once per class or function (callers only read it)."""
    return typing.get_type_hints(target)


def signature_of(cls: type, skip: Collection[str] = ()) -> Signature:
    """The config arguments of ``cls.__init__``, leaving out ``skip`` (e.g. ``params``)."""
    try:
        hints = _type_hints(getattr(cls, "__init__"))
    except Exception:  # a plugin's unresolvable annotation: check names only
        hints = {}
    arguments: dict[str, Argument] = {}
    is_open = False
    for param in inspect.signature(cls).parameters.values():
        if param.kind is param.VAR_KEYWORD:
            is_open = True
        elif param.kind is not param.VAR_POSITIONAL and param.name not in skip:
            arguments[param.name] = Argument(param.name, hints.get(param.name, Any), param.default)
    return Signature(cls.__name__, arguments, is_open)


def check_arguments(problems: Problems, path: KeyPath, signature: Signature,
                    args: dict[str, Any]) -> dict[str, Any] | None:
    """Check ``args`` (found at ``path``) against ``signature``; the coerced args, or None on a problem."""
    before = problems.count()
    misspelt = set()
    for key in args:
        if key not in signature.arguments and not signature.open:
            hint = suggest(key, signature.arguments, f"{signature.owner} takes")
            misspelt.add(_close(key, signature.arguments))
            problems.add((*path, key), f"{signature.owner} has no {signature.noun} {key!r}", hint,
                         at_key=True)
    for argument in signature.arguments.values():
        if argument.required and argument.name not in args and argument.name not in misspelt:
            problems.add(path, f"{signature.owner} needs the {signature.noun} {argument.name!r}",
                         f"add {argument.name}: {example(argument.hint)}")
    checked: dict[str, Any] = {}
    for key, value in args.items():
        argument = signature.arguments.get(key, Argument(key, Any))
        if is_initializer(argument.hint) and isinstance(value, (str, dict)):
            check_initializer(problems, (*path, key), value)
        elif not accepts(value, argument.hint):
            problems.add((*path, key), f"expected {describe(argument.hint)}, got {kind_of(value)} "
                         f"{_short(value)}", f"e.g. {key}: {example(argument.hint, argument.default)}")
        checked[key] = coerce(value, argument.hint)
    return checked if problems.count() == before else None


def construct(problems: Problems, path: KeyPath, signature: Signature,
              factory: Callable[..., Any], args: dict[str, Any],
              hints: Mapping[str, str] | None = None) -> Any:
    """``factory(**args)``; an :class:`InvalidArgument` is recorded at the argument it carries
    (``betas[1]`` at ``...betas[1]``) with its hint (or ``hints[argument]``), any other
    constructor error at ``path``."""
    try:
        return factory(**args)
    except InvalidArgument as error:
        hint = error.hint or (hints or {}).get(error.argument) or f"change {error.argument}"
        text = one_line(error) if signature.noun == "key" else f"{signature.owner}: {one_line(error)}"
        problems.add((*path, *argument_path(error.argument)), text, hint)
        return None
    except CONSTRUCTOR_ERRORS as error:
        problems.add(path, f"{signature.owner}: {one_line(error)}", "check the arguments")
        return None


def build(problems: Problems, path: KeyPath, cls: type, args: dict[str, Any], *,
          factory: Callable[..., Any] | None = None, skip: Collection[str] = ()) -> Any:
    """Check ``args`` for ``cls`` and construct it (with ``factory``, default ``cls``); None on a problem."""
    signature = signature_of(cls, skip)
    checked = check_arguments(problems, path, signature, args)
    if checked is None:
        return None
    return construct(problems, path, signature, factory or cls, checked)


def split_spec(problems: Problems, path: KeyPath, spec: Any,
               registry: Registry[Any]) -> tuple[type, dict[str, Any]] | None:
    """Resolve ``Name`` or ``{type: Name, **args}`` to ``(class, args)``; None on a problem."""
    if isinstance(spec, str):
        cls = lookup(problems, path, spec, registry)
        return None if cls is None else (cls, {})
    if not isinstance(spec, dict):
        problems.add(path, f"expected {_a(registry.kind)} name or a mapping with 'type', got "
                     f"{kind_of(spec)} {_short(spec)}", f"e.g. {{type: {_first(registry)}}}")
        return None
    args = dict(spec)
    name = args.pop("type", None)
    if not isinstance(name, str):
        problems.add((*path, "type") if "type" in spec else path,
                     f"{_a(registry.kind)} mapping needs 'type' naming the {registry.kind}",
                     _type_hint(spec, registry))
        return None
    cls = lookup(problems, (*path, "type"), name, registry)
    return None if cls is None else (cls, args)


def lookup(problems: Problems, path: KeyPath, name: str, registry: Registry[Any]) -> type | None:
    """``registry.get(name)``; an unknown name is recorded with a did-you-mean hint."""
    try:
        cls: type = registry.get(name)
        return cls
    except UnknownNameError as error:
        problems.add(path, f"unknown {registry.kind} {name!r}", error.hint)
        return None


def check_initializer(problems: Problems, path: KeyPath, spec: str | dict[str, Any]) -> None:
    """Check ``he_uniform``, ``{type: uniform, low: -0.5}`` or ``{uniform: {low: -0.5}}`` by building it."""
    if isinstance(spec, dict) and "type" in spec:
        parts = split_spec(problems, path, spec, INITIALIZERS)
        if parts is not None:
            build(problems, path, *parts)
        return
    if isinstance(spec, str):
        cls = lookup(problems, path, spec, INITIALIZERS)
        args: Any = {}
    elif len(spec) == 1:
        (name, args), = spec.items()
        cls = lookup(problems, (*path, name), name, INITIALIZERS)
        path = (*path, name)
    else:
        problems.add(path, f"an initializer mapping needs 'type', got keys {sorted(spec)}",
                     "e.g. init: {type: uniform, low: -0.5, high: 0.5}")
        return
    if cls is None:
        return
    if args is None or isinstance(args, dict):
        build(problems, path, cls, args or {})
    else:
        problems.add(path, f"initializer arguments must be a mapping, got {kind_of(args)}",
                     f"e.g. {{{INITIALIZERS.name_of(cls)}: {{...}}}}")


def argument_path(argument: str) -> KeyPath:
    """An argument name as a key path: ``"betas[1]"`` -> ``("betas", 1)``."""
    parts: list[str | int] = []
    for name, index in re.findall(r"([^\[\].]+)|\[(\d+)\]", argument):
        parts.append(int(index) if index else name)
    return tuple(parts)


def suggest(key: str, known: Collection[str], prefix: str) -> str:
    """A did-you-mean hint for ``key`` among ``known``, else ``prefix`` and the list."""
    close = _close(key, known)
    if close:
        return f"did you mean {close!r}?"
    return f"{prefix} {', '.join(known)}" if known else f"{prefix} no arguments"


def _close(key: str, known: Collection[str]) -> str:
    """The known name ``key`` is most likely a misspelling of, or ''."""
    return next(iter(difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)), "")


def _type_hint(spec: dict[str, Any], registry: Registry[Any]) -> str:
    named = [key for key in spec if key in registry]
    if named:
        return f"write {{type: {named[0]}, ...}} rather than {{{named[0]}: ...}}"
    return f"e.g. type: {_first(registry)}"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _first(registry: Registry[Any]) -> str:
    return registry.example


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
    hints = _type_hints(cls)
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
    hints = _type_hints(cls)
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
