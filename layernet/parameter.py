"""Parameter: a trainable array and its gradient."""

from __future__ import annotations

import numpy as np

from ._typing import Array


class Parameter:
    """A trainable array ``value`` and the gradient ``grad`` accumulated into it.

    ``value`` and ``grad`` always have the same shape and dtype. Layers *add*
    into ``grad`` during ``backward``; optimisers read it and ``zero_grad``
    clears it in place (so views into a shared buffer stay valid).

    Args:
        value: the initial array; it is used as is (not copied).
        name: a short name, unique within its layer (``"weight"``, ``"bias"``).
    """

    __slots__ = ("value", "grad", "name")

    def __init__(self, value: Array, name: str = "") -> None:
        self.value: Array = value
        self.grad: Array = np.zeros_like(value)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``value``."""
        return tuple(self.value.shape)

    @property
    def size(self) -> int:
        """The number of scalars in ``value``."""
        return int(self.value.size)

    def zero_grad(self) -> None:
        """Set ``grad`` to zero in place."""
        self.grad[...] = 0

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.value.dtype})"


def pack(parameters: list[Parameter]) -> tuple[Array, Array]:
    """Move ``parameters`` into one contiguous value buffer and one grad buffer.

    Each parameter's ``value`` and ``grad`` become views into the returned flat
    arrays (in order), so an optimiser can update all of them with a few
    vectorised operations. Values are copied; gradients are zeroed.

    Returns:
        ``(values, grads)``, both 1-D of length ``sum(p.size)``.
    """
    dtype = parameters[0].value.dtype if parameters else np.dtype(np.float32)
    total = sum(p.size for p in parameters)
    values: Array = np.empty(total, dtype=dtype)
    grads: Array = np.zeros(total, dtype=dtype)
    offset = 0
    for p in parameters:
        end = offset + p.size
        values[offset:end] = p.value.reshape(-1)
        p.value = values[offset:end].reshape(p.shape)
        p.grad = grads[offset:end].reshape(p.shape)
        offset = end
    return values, grads


def flat_span(arrays: list[Array]) -> Array | None:
    """Return one 1-D view covering ``arrays`` if they tile a buffer in order, else None.

    Used by optimisers to update packed parameters in a single operation.
    """
    if not arrays:
        return None
    first = arrays[0]
    base = first.base if first.base is not None else first
    if base.ndim != 1 or not base.flags.c_contiguous:
        return None
    itemsize = first.itemsize
    start = _address(first)
    expected = start
    for a in arrays:
        if (a.base is not base and a is not base) or a.dtype != first.dtype:
            return None
        if not a.flags.c_contiguous or _address(a) != expected:
            return None
        expected += a.size * itemsize
    offset = (start - _address(base)) // itemsize
    count = (expected - start) // itemsize
    return base[offset:offset + count]


def _address(a: Array) -> int:
    return int(a.__array_interface__["data"][0])
