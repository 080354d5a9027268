"""Checking constructor arguments against signatures, then constructing the object.

Every registered class (layer, loss, optimiser, initialiser, schedule) is
named in YAML as ``Name`` or ``{type: Name, arg: value, ...}``; its
``__init__`` signature and type hints are the schema. Problems (unknown
names, unknown or missing arguments, wrong types, and the ``ValueError`` a
constructor raises for an out-of-range value) are recorded in a
:class:`~layernet.config.document.Problems` at the key path they concern.
"""

from __future__ import annotations

import difflib
import inspect
import re
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument, LayernetError
from ..initializers import INITIALIZERS
from ..errors import UnknownNameError
from ..registry import Registry
from .document import KeyPath, Problems, one_line
from .reader import kind_of
from .types import accepts, coerce, describe, example, is_initializer

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


def signature_of(cls: type, skip: Collection[str] = ()) -> Signature:
    """The config arguments of ``cls.__init__``, leaving out ``skip`` (e.g. ``params``)."""
    try:
        hints = typing.get_type_hints(getattr(cls, "__init__"))
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
    return next(iter(registry), "Name")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
