"""Registry: a name -> class table with did-you-mean lookup, and the one spec grammar.

layernet keeps one registry per family (layers, losses, optimisers,
initialisers, schedules); configs name classes through them and user classes
join with a decorator such as :func:`layernet.register_layer`. Every family is
written the same way: ``"Name"`` or ``{"type": "Name", **arguments}``
(:func:`split_spec`); the older initialiser form ``{name: {arguments}}`` is still read.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar, overload

from .errors import InvalidArgument, RegistrationError, UnknownNameError


class Configurable(Protocol):
    """What a registered class provides: its constructor arguments as plain values."""

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, so ``cls(**get_config())`` rebuilds the object."""
        ...


class Configured:
    """Base class of the registered families other than layers: a config and a repr made from it."""

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, so ``cls(**get_config())`` rebuilds the object."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


C = TypeVar("C", bound=Configurable)
K = TypeVar("K", bound=type)


class Registry(Generic[C]):
    """Maps config names to the subclasses of one base class.

    Args:
        kind: what the family is called in messages (``"layer"``, ``"loss"``).
        base: the base class every registered class must derive from.
        registration: the decorator users register with, for hints
            (``"layernet.register_layer"``, ``"layernet.LOSSES.register"``).
        example: the name shown in hints such as ``e.g. {type: Dense}``.
    """

    def __init__(self, kind: str, base: type[C], registration: str, example: str) -> None:
        self.kind = kind
        self.base = base
        self.registration = registration
        self.example = example
        self._classes: dict[str, type[C]] = {}

    @overload
    def register(self, cls: K, *, name: str | None = None) -> K: ...

    @overload
    def register(self, cls: None = None, *, name: str | None = None) -> Callable[[K], K]: ...

    def register(self, cls: K | None = None, *, name: str | None = None) -> K | Callable[[K], K]:
        """Add ``cls`` under ``name`` (default: the class name); usable as a decorator.

        Registering a different class under a taken name is an error; registering
        the same class again (e.g. a module imported twice) is allowed.
        """

        def add(klass: K) -> K:
            key = name or klass.__name__
            existing = self._classes.get(key)
            if existing is not None and _identity(existing) != _identity(klass):
                raise RegistrationError(f"{self.kind} name {key!r} is already registered to "
                                        f"{existing.__module__}.{existing.__qualname__}; register "
                                        f"{klass.__qualname__} under another name")
            self._classes[key] = self._checked(klass)
            return klass

        return add(cls) if cls is not None else add

    def _checked(self, klass: type) -> type[C]:
        if not issubclass(klass, self.base):
            raise RegistrationError(f"{klass.__name__} is not a {self.base.__name__} subclass, "
                                    f"so it cannot be registered as a {self.kind}")
        return klass

    def get(self, name: str) -> type[C]:
        """Return the class registered as ``name``; raise :class:`UnknownNameError` otherwise."""
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.suggest(name)) from None

    def create(self, spec: C | str | Mapping[str, Any], *args: Any) -> C:
        """An instance from ``"Name"``, ``{"type": "Name", **kwargs}`` or an instance (returned as is).

        ``args`` are passed first (an optimiser's parameters).

        Raises:
            UnknownNameError: the name is not registered.
            InvalidArgument: the spec has no ``type``, names an argument the class does not
                take or leaves out one it needs, or an argument is out of range.
        """
        if isinstance(spec, self.base):
            return spec
        name, kwargs = split_spec(spec, self)
        cls = self.get(name)
        signature = _signature(cls)
        try:
            signature.bind(*args, **kwargs)
        except TypeError as error:
            takes = ", ".join(list(signature.parameters)[len(args):])
            raise InvalidArgument(name, dict(kwargs), f"given the arguments it takes ({takes})",
                                  str(error)) from None
        return cls(*args, **kwargs)

    def config_of(self, obj: C) -> dict[str, Any]:
        """``{"type": registered name, **obj.get_config()}``: the inverse of :meth:`create`."""
        return {"type": self.name_of(type(obj)), **obj.get_config()}

    def suggest(self, name: str) -> str:
        """A hint naming the closest registered names, or listing them all."""
        lowered = {key.lower(): key for key in self._classes}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        if close:
            return f"did you mean {lowered[close[0]]!r}?"
        return "known: " + ", ".join(sorted(self._classes))

    def name_of(self, cls: type) -> str:
        """The name ``cls`` is registered under; raise :class:`UnknownNameError` otherwise."""
        for key, klass in self._classes.items():
            if klass is cls:
                return key
        raise UnknownNameError(self.kind, cls.__name__, f"register it with @{self.registration}")

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def items(self) -> list[tuple[str, type[C]]]:
        """``(name, class)`` pairs sorted by name."""
        return sorted(self._classes.items())


def split_spec(spec: Any, registry: Registry[Any]) -> tuple[str, dict[str, Any]]:
    """``(name, arguments)`` of ``"Name"``, ``{"type": "Name", **args}`` or ``{name: {args}}``.

    Raises:
        InvalidArgument: anything else (the argument is named ``type``).
    """
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping):
        if isinstance(spec.get("type"), str):
            args = {str(key): value for key, value in spec.items() if key != "type"}
            return str(spec["type"]), args
        legacy = legacy_spec(spec, registry)
        if legacy is not None:
            return legacy
    raise InvalidArgument("type", spec, f"a {registry.kind} name or a mapping with 'type'",
                          f"e.g. {{type: {registry.example}}}")


def legacy_spec(spec: Mapping[str, Any], registry: Registry[Any]) -> tuple[str, dict[str, Any]] | None:
    """The older one-key form ``{name: {args}}`` (initialisers) as ``(name, args)``, else None."""
    if len(spec) != 1:
        return None
    (name, args), = spec.items()
    if name in registry and (args is None or isinstance(args, Mapping)):
        return str(name), dict(args or {})
    return None


def _identity(cls: type) -> tuple[str, str]:
    """A class's module and qualified name: the same class imported twice compares equal."""
    return cls.__module__, cls.__qualname__


@functools.cache
def _signature(cls: type) -> inspect.Signature:
    """``inspect.signature(cls)``, worked out once per class (a model builds two initialisers a layer)."""
    return inspect.signature(cls)
