"""Every optimiser and option against ``torch.optim``, step by step, to 1e-12 relative in float64.

Skipped when torch is not installed. torch runs its single-tensor (for-loop)
implementations (``foreach=False``) with float64 as its default dtype, so its
scalar state (step counts, NAdam's ``mu_product``) is float64 as well.

The two sides cannot agree bit for bit: torch's CPU kernels fuse multiply-adds
(``add_(x, alpha=a)``, ``lerp_``, ``addcmul_``), numpy rounds each operation.
The difference is an ulp or so per operation; elements that pass close to zero
are compared with an absolute floor of 1e-15 (parameters here are of order 0.1).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.optimizers import Optimizer, get_optimizer

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

STEPS = 20
RTOL = 1e-12
ATOL = 1e-15

#: name -> (layernet spec, torch optimiser class name, torch keyword arguments).
CASES: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "sgd": ({"type": "SGD", "lr": 0.1}, "SGD", {"lr": 0.1}),
    "sgd_momentum": ({"type": "SGD", "lr": 0.05, "momentum": 0.9}, "SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ({"type": "SGD", "lr": 0.05, "momentum": 0.8, "nesterov": True}, "SGD",
                     {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    "sgd_dampening": ({"type": "SGD", "lr": 0.05, "momentum": 0.9, "dampening": 0.3}, "SGD",
                      {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    "sgd_dampening_weight_decay": (
        {"type": "SGD", "lr": 0.05, "momentum": 0.5, "dampening": 0.9, "weight_decay": 0.1}, "SGD",
        {"lr": 0.05, "momentum": 0.5, "dampening": 0.9, "weight_decay": 0.1}),
    "adam": ({"type": "Adam", "lr": 0.01, "betas": [0.8, 0.95], "eps": 1e-6}, "Adam",
             {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6}),
    "adam_amsgrad": ({"type": "Adam", "lr": 0.01, "betas": [0.8, 0.9], "amsgrad": True}, "Adam",
                     {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True}),
    "adam_amsgrad_weight_decay": ({"type": "Adam", "lr": 0.01, "amsgrad": True, "weight_decay": 0.1},
                                  "Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    "adamw": ({"type": "AdamW", "lr": 0.01, "weight_decay": 0.1}, "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    "adamw_amsgrad": ({"type": "AdamW", "lr": 0.01, "betas": [0.8, 0.9], "amsgrad": True}, "AdamW",
                      {"lr": 0.01, "betas": (0.8, 0.9), "amsgrad": True}),
    "rmsprop": ({"type": "RMSprop"}, "RMSprop", {}),
    "rmsprop_alpha_eps": ({"type": "RMSprop", "lr": 0.005, "alpha": 0.9, "eps": 1e-3}, "RMSprop",
                          {"lr": 0.005, "alpha": 0.9, "eps": 1e-3}),
    "rmsprop_momentum": ({"type": "RMSprop", "momentum": 0.9}, "RMSprop", {"momentum": 0.9}),
    "rmsprop_centered": ({"type": "RMSprop", "alpha": 0.9, "centered": True}, "RMSprop",
                         {"alpha": 0.9, "centered": True}),
    "rmsprop_weight_decay": ({"type": "RMSprop", "weight_decay": 0.1}, "RMSprop", {"weight_decay": 0.1}),
    "rmsprop_all": ({"type": "RMSprop", "lr": 0.003, "alpha": 0.95, "momentum": 0.5, "centered": True,
                     "weight_decay": 0.05}, "RMSprop",
                    {"lr": 0.003, "alpha": 0.95, "momentum": 0.5, "centered": True, "weight_decay": 0.05}),
    "adagrad": ({"type": "Adagrad", "lr": 0.1}, "Adagrad", {"lr": 0.1}),
    "adagrad_lr_decay_accumulator": (
        {"type": "Adagrad", "lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.3}, "Adagrad",
        {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.3}),
    "adagrad_all": ({"type": "Adagrad", "lr": 0.05, "lr_decay": 0.2, "initial_accumulator_value": 1.0,
                     "weight_decay": 0.1, "eps": 1e-6}, "Adagrad",
                    {"lr": 0.05, "lr_decay": 0.2, "initial_accumulator_value": 1.0, "weight_decay": 0.1,
                     "eps": 1e-6}),
    "nadam": ({"type": "NAdam"}, "NAdam", {}),
    "nadam_all": ({"type": "NAdam", "lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1,
                   "momentum_decay": 0.05}, "NAdam",
                  {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1,
                   "momentum_decay": 0.05}),
    "radam": ({"type": "RAdam", "lr": 0.01}, "RAdam", {"lr": 0.01}),
    "radam_all": ({"type": "RAdam", "lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1},
                  "RAdam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
}

@pytest.fixture(autouse=True)
def torch_float64() -> Iterator[None]:
    """torch's default dtype float64 for the test (its scalar optimiser state follows it)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def torch_optimizer(name: str, tensors: list[Any]) -> Any:
    _, cls, kwargs = CASES[name]
    return getattr(torch.optim, cls)(tensors, foreach=False, **kwargs)


def parameters(layout: str) -> list[ln.Parameter]:
    """The parameters of the brief's model: its packed buffer, or standalone copies of them."""
    model = ln.Sequential([ln.Dense(5), ln.ReLU(), ln.Dense(3)], input_shape=(4,), seed=3,
                          dtype=np.float64)
    if layout == "buffer":
        return model.parameters()
    return [ln.Parameter(p.value.copy(), p.name) for p in model.parameters()]


def gradients(rng: np.random.Generator, values: list[np.ndarray]) -> list[np.ndarray]:
    """One step's gradients: draws from ``rng`` plus a pull towards zero, so they depend on the path."""
    return [rng.standard_normal(v.shape) + 0.1 * v for v in values]


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), ATOL / RTOL)))


def through_npz(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``state`` after a round trip through ``.npz`` (as a checkpoint stores it)."""
    stream = io.BytesIO()
    np.savez(stream, **state)
    stream.seek(0)
    with np.load(stream) as archive:
        return {key: archive[key] for key in archive.files}


def run_against_torch(name: str, layout: str, resume_at: int | None = None) -> float:
    """``STEPS`` steps of layernet and torch side by side; the largest relative difference.

    With ``resume_at`` the layernet optimiser is replaced at that step by a fresh
    one loaded from the npz-round-tripped ``state_dict``.
    """
    spec = CASES[name][0]
    params = parameters(layout)
    tensors = [torch.from_numpy(p.value.copy()).requires_grad_() for p in params]
    optimizer: Optimizer = get_optimizer(spec, params)
    reference = torch_optimizer(name, tensors)
    ours_rng, theirs_rng = np.random.default_rng(42), np.random.default_rng(42)
    worst = 0.0
    for step in range(STEPS):
        if step == resume_at:
            state = through_npz(optimizer.state_dict())
            optimizer = get_optimizer(spec, params)
            optimizer.load_state_dict(state)
        for p, g in zip(params, gradients(ours_rng, [p.value for p in params])):
            p.grad[...] = g
        for t, g in zip(tensors, gradients(theirs_rng, [t.detach().numpy() for t in tensors])):
            t.grad = torch.from_numpy(g)
        optimizer.step()
        reference.step()
        for p, t in zip(params, tensors):
            expected = t.detach().numpy()
            np.testing.assert_allclose(p.value, expected, rtol=RTOL, atol=ATOL,
                                       err_msg=f"{name}, {layout}, step {step + 1}, {p.name}")
            worst = max(worst, relative_difference(p.value, expected))
    assert optimizer.steps == STEPS
    return worst


@pytest.mark.parametrize("layout", ["buffer", "standalone"])
@pytest.mark.parametrize("name", list(CASES))
def test_twenty_steps_match_torch(name: str, layout: str) -> None:
    assert run_against_torch(name, layout) <= RTOL


@pytest.mark.parametrize("name", list(CASES))
def test_a_resumed_run_still_matches_torch(name: str) -> None:
    assert run_against_torch(name, "buffer", resume_at=STEPS // 2) <= RTOL


@pytest.mark.parametrize("name", list(CASES))
def test_the_state_slots_match_torchs_state(name: str) -> None:
    """After the run, layernet's named state equals torch's per-parameter state of the same name."""
    spec = CASES[name][0]
    params = parameters("standalone")
    tensors = [torch.from_numpy(p.value.copy()).requires_grad_() for p in params]
    optimizer, reference = get_optimizer(spec, params), torch_optimizer(name, tensors)
    rng = np.random.default_rng(7)
    for _ in range(5):
        for p, t, g in zip(params, tensors, gradients(rng, [p.value for p in params])):
            p.grad[...] = g
            t.grad = torch.from_numpy(g.copy())
        optimizer.step()
        reference.step()
    ours = optimizer.state_dict()
    for slot in optimizer.slots:
        theirs = np.concatenate([reference.state[t][slot].numpy().ravel() for t in tensors])
        np.testing.assert_allclose(ours[slot], theirs, rtol=RTOL, atol=ATOL, err_msg=slot)
    for t in tensors:
        if "step" in reference.state[t]:  # SGD keeps no step count
            assert float(reference.state[t]["step"]) == float(ours["steps"])
        if "mu_product" in ours:
            assert float(reference.state[t]["mu_product"]) == pytest.approx(float(ours["mu_product"]),
                                                                           rel=RTOL)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.8, 0.99)])
def test_radam_cases_cross_the_rectification_threshold(betas: tuple[float, float]) -> None:
    """The RAdam runs above take both branches: ρₜ ≤ 5 at first, ρₜ > 5 later."""
    beta2 = betas[1]
    rho_inf = 2 / (1 - beta2) - 1
    rho = [rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t) for t in range(1, STEPS + 1)]
    assert rho[0] <= 5 < rho[-1]
    assert sum(r > 5 for r in rho) >= 10

