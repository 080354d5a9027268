"""Parameters and the buffer that packs them: one contiguous value array and one gradient array.

A :class:`Parameter` is a trainable array and its gradient. A model packs all
its parameters into one :class:`ParameterBuffer`; each parameter's ``value``
and ``grad`` then become views into the buffer's two flat arrays, so an
optimiser updates every parameter with a few vectorised in-place operations.
Which buffer a parameter lives in is recorded explicitly (``parameter.buffer``),
never inferred from memory addresses.

Before any parameter is allocated its bytes are claimed from a :class:`ParameterBudget`
(``Layer.add_parameter`` does it), so a model too large for memory, or a stored config
larger than the weights stored with it, is refused before anything is allocated.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from contextvars import ContextVar, Token

import numpy as np
import numpy.typing as npt

from .archive import describe_bytes
from .errors import InvalidArgument, ModelSizeError
from .typing import Array

#: The environment variable that sets the parameter budget, in bytes (``"8G"``, ``"512M"``, ``"123456"``).
BUDGET_VARIABLE = "LAYERNET_MAX_PARAMETER_BYTES"
#: Training holds about this many copies of the parameters (values, gradients, two optimiser
#: moments, one scratch array), so by default the parameters may take this fraction of memory.
TRAINING_COPIES = 5
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_SIZE = re.compile(r"\s*(\d{1,15})\s*([KMGT]?)(?:i?B)?\s*", re.IGNORECASE)
#: Files that may state a memory limit, and where the number is: cgroup v2 and v1 (containers),
#: the address-space limit (``ulimit -v``).
_MEMORY_LIMITS = (("/sys/fs/cgroup/memory.max", r"^(\d+)$"),
                  ("/sys/fs/cgroup/memory/memory.limit_in_bytes", r"^(\d+)$"),
                  ("/proc/self/limits", r"^Max address space\s+(\d+)"))
_ACTIVE: ContextVar[ParameterBudget | None] = ContextVar("layernet_parameter_budget", default=None)


class Parameter:
    """A trainable array ``value`` and the gradient ``grad`` accumulated into it.

    ``value`` and ``grad`` always have the same shape and dtype and are C-contiguous.
    Layers *add* into ``grad`` during ``backward``; optimisers read it. :meth:`zero_grad`
    defers its zeros, as PyTorch's ``zero_grad(set_to_none=True)`` does: they are written
    when ``grad`` is next read, unless a layer first writes a whole contribution through
    :meth:`grad_to_fill`, which then overwrites ``grad`` instead of adding to it. A training
    step thus skips one pass over the gradients and one over each layer's weight gradient.
    Code that adds into ``grad`` reads the property each time: an array kept from before
    :meth:`zero_grad` skips the deferred zeros, which the optimiser then writes over it.

    Args:
        value: the initial array; used as is when it is a C-contiguous float
            array, otherwise copied into one.
        name: a short name, unique within its layer (``"weight"``, ``"bias"``).

    Attributes:
        buffer: the :class:`ParameterBuffer` holding ``value`` and ``grad``, or None.
    """

    __slots__ = ("value", "_grad", "_zero_pending", "name", "buffer")

    def __init__(self, value: npt.ArrayLike, name: str = "") -> None:
        array = np.ascontiguousarray(value)
        if array.dtype.kind != "f":
            raise InvalidArgument("value", array.dtype, "a float array", "e.g. np.zeros(3, np.float32)")
        self.value: Array = array
        self._grad: Array = np.zeros_like(array)
        self._zero_pending = False
        self.name = name
        self.buffer: ParameterBuffer | None = None

    @property
    def grad(self) -> Array:
        """The gradient, shaped like ``value`` (zeros deferred by :meth:`zero_grad` written first)."""
        self.write_deferred_zeros()
        return self._grad

    @grad.setter
    def grad(self, array: Array) -> None:
        self._grad = array
        self._zero_pending = False

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``value``."""
        return tuple(self.value.shape)

    @property
    def size(self) -> int:
        """The number of scalars in ``value``."""
        return int(self.value.size)

    def zero_grad(self) -> None:
        """Make ``grad`` zero: the zeros are written when it is next read (see the class docstring)."""
        self._zero_pending = True

    def write_deferred_zeros(self) -> None:
        """Write the zeros :meth:`zero_grad` deferred, for code reading ``grad`` through other views
        of its memory (an optimiser's flat arrays, :attr:`ParameterBuffer.grads`)."""
        if self._zero_pending:
            self._grad.fill(0)
            self._zero_pending = False

    def grad_to_fill(self) -> tuple[Array, bool]:
        """``(grad, add)`` for a layer about to write one whole gradient contribution.

        ``add`` is False when ``grad`` holds nothing since :meth:`zero_grad`: the caller must
        then overwrite every element (``np.matmul(xᵀ, dy, out=grad)``); otherwise it adds
        into ``grad``. Either way ``grad`` counts as written afterwards.
        """
        add = not self._zero_pending
        self._zero_pending = False
        return self._grad, add

    def accumulate(self, contribution: Array, shape: tuple[int, ...] | None = None) -> None:
        """Add ``contribution`` into ``grad``, viewed as ``shape`` when given (a reshape of the
        contiguous ``grad``, never a copy; e.g. a convolution's ``(filters, inputs)``)."""
        grad, add = self.grad_to_fill()
        target = grad if shape is None else grad.reshape(shape)
        if add:
            np.add(target, contribution, out=target)
        else:
            np.copyto(target, contribution)

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
    """

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self.parameters = list(parameters)
        dtypes = {p.value.dtype for p in self.parameters}
        if len(dtypes) > 1:
            raise InvalidArgument("parameters", sorted(map(str, dtypes)), "of one dtype")
        dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
        total = sum(p.size for p in self.parameters)
        self.values: Array = np.empty(total, dtype=dtype)
        self._grads: Array = np.zeros(total, dtype=dtype)
        offset = 0
        for p in self.parameters:
            end = offset + p.size
            self.values[offset:end] = p.value.reshape(-1)
            p.value = self.values[offset:end].reshape(p.shape)
            p.grad = self._grads[offset:end].reshape(p.shape)
            p.buffer = self
            offset = end

    @property
    def size(self) -> int:
        """The number of scalars in the buffer."""
        return int(self.values.size)

    @property
    def grads(self) -> Array:
        """The flat gradient array (zeros deferred by :meth:`zero_grad` written first)."""
        for parameter in self.parameters:
            parameter.write_deferred_zeros()
        return self._grads

    def zero_grad(self) -> None:
        """Make every gradient zero (deferred: see :class:`Parameter`)."""
        for parameter in self.parameters:
            parameter.zero_grad()

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


class ParameterBudget:
    """The bytes of parameters and state a model being built may allocate, claimed before allocating.

    :meth:`layernet.Sequential.build` builds within the active budget, or within
    :func:`default_budget` when none is active; a loader activates one holding exactly the
    bytes of weights its file declares (``with ParameterBudget(n, ...):``), so a stored
    config that needs more is refused before anything is allocated.

    Args:
        limit: the most bytes the claims may add up to.
        reason: what the limit is, for messages (``"the 31.4 KiB of weights the file holds"``).
        initialize: False to create parameters as zeros instead of drawing them from their
            initialisers (a loader overwrites them with the stored weights anyway).

    Attributes:
        used: the bytes claimed so far.
    """

    def __init__(self, limit: int, reason: str, *, initialize: bool = True) -> None:
        self.limit = limit
        self.reason = reason
        self.initialize = initialize
        self.used = 0
        self._tokens: list[Token[ParameterBudget | None]] = []

    def claim(self, what: str, shape: tuple[int, ...], dtype: npt.DTypeLike) -> None:
        """Count an array of ``shape`` and ``dtype`` (``what``: e.g. ``"weight"``) against the budget.

        Raises:
            ModelSizeError: the model would then need more than :attr:`limit` bytes.
        """
        nbytes = math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize
        if self.used + nbytes > self.limit:
            raise ModelSizeError(
                f"the model needs at least {describe_bytes(self.used + nbytes)} of parameters ({what} "
                f"{np.dtype(dtype)}{list(shape)}: {describe_bytes(nbytes)}), more than {self.reason}")
        self.used += nbytes

    def __enter__(self) -> ParameterBudget:
        self._tokens.append(_ACTIVE.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._tokens.pop())

    def __repr__(self) -> str:
        return f"ParameterBudget({describe_bytes(self.used)} of {describe_bytes(self.limit)} used)"


def active_budget() -> ParameterBudget | None:
    """The budget models are being built within now (None outside a build)."""
    return _ACTIVE.get()


def default_budget() -> ParameterBudget:
    """A fresh budget of :data:`BUDGET_VARIABLE` bytes when it is set, else 1/:data:`TRAINING_COPIES`
    of the memory this process may use (physical memory, a cgroup limit or ``ulimit -v``).

    Raises:
        InvalidArgument: :data:`BUDGET_VARIABLE` is not a size such as ``8G`` or ``123456``.
    """
    setting = os.environ.get(BUDGET_VARIABLE)
    how = f"set {BUDGET_VARIABLE} (e.g. {BUDGET_VARIABLE}=16G) to change the budget"
    if setting:
        match = _SIZE.fullmatch(setting)
        if match is None:
            raise InvalidArgument(BUDGET_VARIABLE, setting, "a size in bytes such as 8G, 512M or 123456")
        limit = int(match[1]) * _UNITS[match[2].upper()]
        return ParameterBudget(limit, f"the {describe_bytes(limit)} {BUDGET_VARIABLE} allows "
                               f"(use fewer units, filters or layers, or raise it)")
    memory = usable_memory()
    if memory is None:
        return ParameterBudget(2**63, "the memory of this machine")
    return ParameterBudget(memory // TRAINING_COPIES, (
        f"1/{TRAINING_COPIES} of the {describe_bytes(memory)} of memory this process may use "
        f"(training keeps about {TRAINING_COPIES} copies: values, gradients, optimizer state); "
        f"use fewer units, filters or layers, or {how}"))


def usable_memory() -> int | None:
    """The bytes of memory this process may use: the smallest of the physical memory, the
    cgroup (container) limit and the address-space limit (``ulimit -v``); None when unknown."""
    limits: list[int] = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        pass
    for path, pattern in _MEMORY_LIMITS:
        try:
            with open(path, encoding="ascii") as handle:
                found = re.search(pattern, handle.read(), re.MULTILINE)
        except (OSError, ValueError):
            continue
        if found:
            limits.append(int(found[1]))
    known = [limit for limit in limits if 0 < limit < 2**62]
    return min(known) if known else None
