"""Optimisers: SGD, Adam and AdamW with PyTorch's update rules.

An optimiser takes the model's parameter list. When the parameters are packed
into one buffer (as :class:`layernet.Sequential` packs them) a step is a few
vectorised in-place operations over that buffer; otherwise it updates each
parameter in turn. State (momentum, moments) is created lazily at the first
step and exported by :meth:`Optimizer.state_dict` as flat arrays in parameter
order, whatever the packing.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from ._typing import Array
from .parameter import Parameter, flat_span
from .registry import Configured, Registry


class Optimizer(Configured):
    """Base class: holds hyperparameters, the parameters and per-parameter state.

    Args:
        params: the parameters to update (``model.parameters()``).
        lr: learning rate, > 0; schedules change ``optimizer.lr`` between steps.

    Attributes:
        lr: the current learning rate.
        steps: how many steps were taken (PyTorch's ``step`` state).
    """

    #: Names of the per-parameter state arrays this optimiser keeps.
    slots: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        _check("lr", lr, low=0.0, low_inclusive=False)
        self.lr = float(lr)
        self.steps = 0
        self._groups = _groups(self.params)
        self._state: list[dict[str, Array]] = [{} for _ in self._groups]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for _, grad in self._groups:
            grad[...] = 0

    def step(self) -> None:
        """Update every parameter from its ``grad`` (one optimisation step)."""
        self.steps += 1
        for (value, grad), state in zip(self._groups, self._state):
            if not state:
                state.update({slot: np.zeros_like(value) for slot in self.slots})
            self.update(value, grad, state)

    def update(self, value: Array, grad: Array, state: dict[str, Array]) -> None:
        """Apply the update rule in place to one flat ``value`` given ``grad`` and ``state``."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """Hyperparameters, for configs."""
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, npt.NDArray[Any]]:
        """Step count, learning rate and state slots as arrays (flat, in parameter order)."""
        out: dict[str, npt.NDArray[Any]] = {"steps": np.asarray(self.steps), "lr": np.asarray(self.lr)}
        if all(self._state):
            for slot in self.slots:
                out[slot] = np.concatenate([state[slot] for state in self._state])
        return out

    def load_state_dict(self, state: dict[str, npt.NDArray[Any]]) -> None:
        """Restore :meth:`state_dict` output; raises ``ValueError`` if it does not fit."""
        total = sum(value.size for value, _ in self._groups)
        for slot in self.slots:
            if slot in state and state[slot].shape != (total,):
                raise ValueError(f"optimizer state {slot!r} has {state[slot].size} values, "
                                 f"the parameters have {total}")
        steps = int(state["steps"])
        if steps < 0:
            raise ValueError(f"optimizer state has a negative step count ({steps})")
        self.steps = steps
        self.lr = float(state["lr"])
        offset = 0
        for (value, _), group_state in zip(self._groups, self._state):
            group_state.clear()
            for slot in self.slots:
                if slot in state:
                    group_state[slot] = state[slot][offset:offset + value.size].astype(value.dtype)
            offset += value.size


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer", Optimizer, "layernet.OPTIMIZERS.register")


@OPTIMIZERS.register
class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD`` (dampening 0).

    With gradient ``g``, parameters ``θ``, step ``t``::

        g ← g + weight_decay · θ
        b ← g                       (t = 1)
        b ← momentum · b + g        (t > 1)
        g ← g + momentum · b        (nesterov)   or   g ← b   (momentum > 0)
        θ ← θ − lr · g

    With the defaults it is the seeds' plain gradient descent ``θ ← θ − α · dθ``.

    Args:
        params: parameters to update.
        lr: learning rate (> 0).
        momentum: momentum factor (≥ 0).
        nesterov: use Nesterov momentum (needs ``momentum > 0``).
        weight_decay: L2 penalty coefficient (≥ 0).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        _check("momentum", momentum, low=0.0)
        _check("weight_decay", weight_decay, low=0.0)
        if nesterov and momentum <= 0:
            raise ValueError("nesterov momentum needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.slots = ("momentum_buffer",) if self.momentum else ()

    def update(self, value: Array, grad: Array, state: dict[str, Array]) -> None:
        g = _decayed(grad, value, self.weight_decay, state)
        if self.momentum:
            buf = state["momentum_buffer"]
            if self.steps == 1:
                buf[...] = g
            else:
                buf *= self.momentum
                buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        step = scratch(state, "step", value)
        np.multiply(g, self.lr, out=step)
        value -= step

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


@OPTIMIZERS.register
class Adam(Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam`` (``amsgrad=False``).

    With gradient ``g``, parameters ``θ``, step ``t``::

        g ← g + weight_decay · θ                 (L2 penalty, coupled)
        m ← β₁ · m + (1 − β₁) · g
        v ← β₂ · v + (1 − β₂) · g²
        θ ← θ − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    Args:
        params: parameters to update.
        lr: learning rate (> 0).
        betas: ``(β₁, β₂)``, each in ``[0, 1)``.
        eps: added to the denominator (≥ 0).
        weight_decay: L2 penalty coefficient (≥ 0).
    """

    slots = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] | list[float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if len(betas) != 2:
            raise ValueError(f"betas must be two numbers, got {betas!r}")
        for i, beta in enumerate(betas):
            _check(f"betas[{i}]", beta, low=0.0, high=1.0)
        _check("eps", eps, low=0.0)
        _check("weight_decay", weight_decay, low=0.0)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)

    def update(self, value: Array, grad: Array, state: dict[str, Array]) -> None:
        self._adam(value, _decayed(grad, value, self.weight_decay, state), state)

    def _adam(self, value: Array, g: Array, state: dict[str, Array]) -> None:
        """The Adam update in place, through one scratch buffer (no temporaries)."""
        beta1, beta2 = self.betas
        m, v = state["exp_avg"], state["exp_avg_sq"]
        work = scratch(state, "step", value)
        m *= beta1
        np.multiply(g, 1 - beta1, out=work)
        m += work
        v *= beta2
        np.multiply(g, 1 - beta2, out=work)
        work *= g
        v += work
        step_size = self.lr / (1 - beta1 ** self.steps)
        denom = np.sqrt(v, out=work)
        denom /= math.sqrt(1 - beta2 ** self.steps)
        denom += self.eps
        np.divide(m, denom, out=denom)
        denom *= step_size
        value -= denom

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay}


@OPTIMIZERS.register
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``::

        θ ← θ · (1 − lr · weight_decay)
        then the Adam update of :class:`Adam` without the L2 term.

    Args: as :class:`Adam`; ``weight_decay`` defaults to 0.01.
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] | list[float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, value: Array, grad: Array, state: dict[str, Array]) -> None:
        if self.weight_decay:
            value *= 1 - self.lr * self.weight_decay
        self._adam(value, grad, state)


def get_optimizer(spec: str | dict[str, Any], params: Iterable[Parameter]) -> Optimizer:
    """Create an optimiser from ``"Adam"`` or ``{"type": "SGD", "lr": 0.1, ...}`` for ``params``."""
    return OPTIMIZERS.create(spec, params)


def optimizer_config(optimizer: Optimizer) -> dict[str, Any]:
    """``{"type": registered name, **optimizer.get_config()}``."""
    return OPTIMIZERS.config_of(optimizer)


def scratch(state: dict[str, Array], key: str, like: Array) -> Array:
    """A work buffer shaped like ``like`` kept in ``state`` under ``key`` (not a slot, so
    never saved), created on first use; optimisers reuse it at every step."""
    buffer = state.get(key)
    if buffer is None:
        buffer = state[key] = np.empty_like(like)
    return buffer


def _decayed(grad: Array, value: Array, weight_decay: float, state: dict[str, Array]) -> Array:
    """``grad + weight_decay · value`` (coupled L2 penalty) in a scratch buffer; ``grad`` when 0."""
    if not weight_decay:
        return grad
    out = np.multiply(value, weight_decay, out=scratch(state, "decayed", value))
    out += grad
    return out


def _groups(params: list[Parameter]) -> list[tuple[Array, Array]]:
    """One flat ``(value, grad)`` pair over packed parameters, else one pair per parameter."""
    values = flat_span([p.value for p in params])
    grads = flat_span([p.grad for p in params])
    if values is not None and grads is not None:
        return [(values, grads)]
    return [(p.value.reshape(-1), p.grad.reshape(-1)) for p in params]


def _check(name: str, value: float, *, low: float, high: float | None = None,
           low_inclusive: bool = True) -> None:
    """Raise ``ValueError('Invalid <name>: <value>')`` outside the allowed range."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= low if low_inclusive else value > low)
    ok = ok and (high is None or value < high)
    if not ok:
        bound = f"{'>=' if low_inclusive else '>'} {low:g}" + (f" and < {high:g}" if high is not None else "")
        raise ValueError(f"Invalid {name}: {value!r} (must be {bound})")
