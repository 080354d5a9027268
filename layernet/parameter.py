"""Parameters and the buffer that packs them: one contiguous value array and one gradient array.

A :class:`Parameter` is a trainable array and its gradient. A model packs all
its parameters into one :class:`ParameterBuffer`; each parameter's ``value``
and ``grad`` then become views into the buffer's two flat arrays, so an
optimiser updates every parameter with a few vectorised in-place operations.
Which buffer a parameter lives in is recorded explicitly (``parameter.buffer``),
never inferred from memory addresses.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from .errors import InvalidArgument
from .typing import Array


class Parameter:
    """A trainable array ``value`` and the gradient ``grad`` accumulated into it.

    ``value`` and ``grad`` always have the same shape and dtype and are C-contiguous.
    Layers *add* into ``grad`` during ``backward``; optimisers read it and
    ``zero_grad`` clears it in place (so views into a buffer stay valid).

    Args:
        value: the initial array; used as is when it is a C-contiguous float
            array, otherwise copied into one.
        name: a short name, unique within its layer (``"weight"``, ``"bias"``).

    Attributes:
        buffer: the :class:`ParameterBuffer` holding ``value`` and ``grad``, or None.
    """

    __slots__ = ("value", "grad", "name", "buffer")

    def __init__(self, value: npt.ArrayLike, name: str = "") -> None:
        array = np.ascontiguousarray(value)
        if array.dtype.kind != "f":
            raise InvalidArgument("value", array.dtype, "a float array", "e.g. np.zeros(3, np.float32)")
        self.value: Array = array
        self.grad: Array = np.zeros_like(array)
        self.name = name
        self.buffer: ParameterBuffer | None = None

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

    def flat(self) -> tuple[Array, Array]:
        """``(value, grad)`` as 1-D views (never copies).

        Raises:
            InvalidArgument: ``value`` or ``grad`` was replaced by a non-contiguous
                array, which an in-place update could not reach.
        """
        for part, array in (("value", self.value), ("grad", self.grad)):
            if not array.flags.c_contiguous:
                raise InvalidArgument(f"{self.name or 'parameter'}.{part}", "a non-contiguous array",
                                      "C-contiguous", "assign np.ascontiguousarray(...) instead")
        return self.value.reshape(-1), self.grad.reshape(-1)

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.shape}, dtype={self.value.dtype})"


class ParameterBuffer:
    """One contiguous value array and one gradient array holding ``parameters`` in order.

    Packing copies each parameter's value into the buffer and rebinds
    ``value``/``grad`` to views of it (gradients start at zero).

    Args:
        parameters: the parameters to pack, all of one float dtype.

    Shape:
        ``values`` and ``grads``: ``(sum of parameter sizes,)``.

    Attributes:
        parameters: the packed parameters, in order.
        values: the flat value array.
        grads: the flat gradient array.
    """

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self.parameters = list(parameters)
        dtypes = {p.value.dtype for p in self.parameters}
        if len(dtypes) > 1:
            raise InvalidArgument("parameters", sorted(map(str, dtypes)), "of one dtype")
        dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
        total = sum(p.size for p in self.parameters)
        self.values: Array = np.empty(total, dtype=dtype)
        self.grads: Array = np.zeros(total, dtype=dtype)
        offset = 0
        for p in self.parameters:
            end = offset + p.size
            self.values[offset:end] = p.value.reshape(-1)
            p.value = self.values[offset:end].reshape(p.shape)
            p.grad = self.grads[offset:end].reshape(p.shape)
            p.buffer = self
            offset = end

    @property
    def size(self) -> int:
        """The number of scalars in the buffer."""
        return int(self.values.size)

    def zero_grad(self) -> None:
        """Set every gradient to zero (one operation)."""
        self.grads[...] = 0

    def __len__(self) -> int:
        return len(self.parameters)

    def __repr__(self) -> str:
        return f"ParameterBuffer({len(self.parameters)} parameters, {self.size:,} values, {self.values.dtype})"


def flat_groups(params: ParameterBuffer | Iterable[Parameter]) -> list[tuple[Array, Array]]:
    """The ``(values, grads)`` 1-D arrays an optimiser updates in place for ``params``.

    A :class:`ParameterBuffer`, or exactly the parameters of one (in order), gives
    a single pair over the whole buffer; any other list gives one pair per
    parameter (views of each parameter's own arrays).

    Raises:
        InvalidArgument: the list is empty, holds something that is not a
            Parameter, or a parameter's arrays are not contiguous.
    """
    if isinstance(params, ParameterBuffer):
        return [(params.values, params.grads)]
    listed = list(params)
    if not listed:
        raise InvalidArgument("params", listed, "a non-empty list of parameters",
                              "build the model first, then pass model.parameters()")
    for index, p in enumerate(listed):
        if not isinstance(p, Parameter):
            raise InvalidArgument(f"params[{index}]", type(p).__name__, "a layernet Parameter")
    buffer = listed[0].buffer
    if buffer is not None and len(listed) == len(buffer.parameters) and all(
            a is b for a, b in zip(listed, buffer.parameters)):
        return [(buffer.values, buffer.grads)]
    return [p.flat() for p in listed]
