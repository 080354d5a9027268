"""Registry: a name -> class table with did-you-mean lookup.

layernet keeps one registry per family (layers, losses, optimisers,
initialisers, schedules); configs name classes through them and user classes
join with a decorator such as :func:`layernet.register_layer`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

T = TypeVar("T", bound=type)


class UnknownNameError(KeyError):
    """A registry lookup failed; ``hint`` suggests the nearest registered name."""

    def __init__(self, kind: str, name: str, hint: str) -> None:
        self.kind = kind
        self.name = name
        self.hint = hint
        super().__init__(f"unknown {kind} {name!r}")

    def __str__(self) -> str:
        return f"unknown {self.kind} {self.name!r} ({self.hint})"


class Registry(Generic[T]):
    """Maps config names to classes of one family.

    Args:
        kind: what the family is called in messages (``"layer"``, ``"loss"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, T] = {}

    @overload
    def register(self, cls: T, *, name: str | None = None) -> T: ...

    @overload
    def register(self, cls: None = None, *, name: str | None = None) -> Callable[[T], T]: ...

    def register(self, cls: T | None = None, *, name: str | None = None) -> T | Callable[[T], T]:
        """Add ``cls`` under ``name`` (default: the class name); usable as a decorator.

        Registering a different class under a taken name is an error; registering
        the same class again (e.g. a module imported twice) is allowed.
        """

        def add(klass: T) -> T:
            key = name or klass.__name__
            existing = self._classes.get(key)
            if existing is not None and existing.__qualname__ != klass.__qualname__:
                raise ValueError(f"{self.kind} name {key!r} is already registered to {existing!r}")
            self._classes[key] = klass
            return klass

        return add(cls) if cls is not None else add

    def get(self, name: str) -> T:
        """Return the class registered as ``name``; raise :class:`UnknownNameError` otherwise."""
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.suggest(name)) from None

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
        raise UnknownNameError(self.kind, cls.__name__,
                               f"register it with @layernet.register_{self.kind}")

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def items(self) -> list[tuple[str, T]]:
        """``(name, class)`` pairs sorted by name."""
        return sorted(self._classes.items())
