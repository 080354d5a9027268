"""Registry: a name -> class table with did-you-mean lookup.

layernet keeps one registry per family (layers, losses, optimisers,
initialisers, schedules); configs name classes through them and user classes
join with a decorator such as :func:`layernet.register_layer`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar, overload


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


class UnknownNameError(KeyError):
    """A registry lookup failed; ``hint`` suggests the nearest registered name."""

    def __init__(self, kind: str, name: str, hint: str) -> None:
        self.kind = kind
        self.name = name
        self.hint = hint
        super().__init__(f"unknown {kind} {name!r}")

    def __str__(self) -> str:
        return f"unknown {self.kind} {self.name!r} ({self.hint})"


class Registry(Generic[C]):
    """Maps config names to the subclasses of one base class.

    Args:
        kind: what the family is called in messages (``"layer"``, ``"loss"``).
        base: the base class every registered class must derive from.
        registration: the decorator users register with, for hints
            (``"layernet.register_layer"``, ``"layernet.LOSSES.register"``).
    """

    def __init__(self, kind: str, base: type[C], registration: str) -> None:
        self.kind = kind
        self.base = base
        self.registration = registration
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
                raise ValueError(f"{self.kind} name {key!r} is already registered to {existing!r}")
            self._classes[key] = self._checked(klass)
            return klass

        return add(cls) if cls is not None else add

    def _checked(self, klass: type) -> type[C]:
        if not issubclass(klass, self.base):
            raise TypeError(f"{klass.__name__} is not a {self.base.__name__} subclass, "
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
        """
        if isinstance(spec, self.base):
            return spec
        if isinstance(spec, str):
            return self.get(spec)(*args)
        kwargs = dict(spec)  # type: ignore[arg-type]
        return self.get(kwargs.pop("type"))(*args, **kwargs)

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


def _identity(cls: type) -> tuple[str, str]:
    """A class's module and qualified name: the same class imported twice compares equal."""
    return cls.__module__, cls.__qualname__
