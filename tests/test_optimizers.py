"""Optimisers: hyperparameter checks, update rules, packed buffers and saved state.

The exact agreement with ``torch.optim`` lives in ``test_torch_oracle.py``.
"""

from __future__ import annotations

import io
import re
import sys
import tracemalloc
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet import kernels, optimizers
from layernet.optimizers import Adagrad, NAdam, RAdam, RMSprop, get_optimizer, optimizer_config

#: One configuration of each optimiser family and option.
OPTIMIZER_SPECS: list[dict[str, Any]] = [
    {"type": "SGD", "lr": 0.1},
    {"type": "SGD", "lr": 0.05, "momentum": 0.9},
    {"type": "SGD", "lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
    {"type": "Adam", "lr": 0.01},
    {"type": "Adam", "lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1},
    {"type": "AdamW", "lr": 0.01, "weight_decay": 0.05},
    {"type": "SGD", "lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    {"type": "Adam", "lr": 0.01, "amsgrad": True},
    {"type": "AdamW", "lr": 0.01, "weight_decay": 0.05, "amsgrad": True},
    {"type": "RMSprop", "lr": 0.01},
    {"type": "RMSprop", "lr": 0.01, "alpha": 0.9, "momentum": 0.9, "centered": True, "weight_decay": 0.1},
    {"type": "Adagrad", "lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01},
    {"type": "NAdam", "lr": 0.01},
    {"type": "NAdam", "lr": 0.01, "betas": [0.8, 0.99], "momentum_decay": 0.01, "weight_decay": 0.1},
    {"type": "RAdam", "lr": 0.01},
    {"type": "RAdam", "lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1},
]

#: Every registered optimiser family.
FAMILIES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam"]


def _model(seed: int = 0) -> ln.Sequential:
    return ln.Sequential([ln.Dense(4), ln.Tanh(), ln.Dense(3), ln.Softmax()],
                         input_shape=(5,), seed=seed, dtype=np.float64)


def _grads(model: ln.Sequential, step: int) -> None:
    """Fill every gradient with values that depend on the step and the current weights."""
    g = np.random.default_rng(step)
    for p in model.parameters():
        p.grad[...] = g.standard_normal(p.shape) + 0.1 * p.value


def _train(model: ln.Sequential, optimizer: ln.Optimizer, steps: range) -> None:
    for step in steps:
        _grads(model, step)
        optimizer.step()


# -- hyperparameter validation -----------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("lr", [-1, 0, float("nan"), float("inf"), True])
def test_learning_rate_must_be_positive(family: str, lr: float) -> None:
    with pytest.raises(ln.InvalidArgument, match=rf"^lr must be a finite number > 0, got {lr!r}$") as caught:
        get_optimizer({"type": family, "lr": lr}, _model().parameters())
    assert caught.value.argument == "lr" and caught.value.value is lr


def test_invalid_lr_message_echoes_the_value() -> None:
    with pytest.raises(ValueError, match=r"^lr must be .*, got -1$"):
        ln.SGD(_model().parameters(), lr=-1)


@pytest.mark.parametrize("spec,message", [
    ({"type": "SGD", "momentum": -0.5}, r"^momentum must be a finite number >= 0, got -0.5$"),
    ({"type": "SGD", "weight_decay": -1e-3}, r"^weight_decay must be .* >= 0, got -0.001$"),
    ({"type": "SGD", "nesterov": True}, r"^momentum must be > 0 with nesterov: true, got 0.0$"),
    ({"type": "Adam", "betas": [0.9, 1.0]}, r"^betas\[1\] must be a finite number >= 0 and < 1, got 1.0$"),
    ({"type": "Adam", "betas": [-0.1, 0.9]}, r"^betas\[0\] must be .*, got -0.1$"),
    ({"type": "Adam", "betas": [0.9]}, r"^betas must be two numbers \[beta1, beta2\], got \[0.9\]$"),
    ({"type": "Adam", "eps": -1e-8}, r"^eps must be .* >= 0, got -1e-08$"),
    ({"type": "AdamW", "weight_decay": -0.01}, r"^weight_decay must be .*, got -0.01$"),
    ({"type": "SGD", "momentum": 0.9, "dampening": -0.1}, r"^dampening must be a finite number >= 0, got -0.1$"),
    ({"type": "SGD", "momentum": 0.9, "nesterov": True, "dampening": 0.1},
     r"^dampening must be 0 with nesterov: true, got 0.1$"),
    ({"type": "Adam", "amsgrad": 1}, r"^amsgrad must be true or false, got 1$"),
    ({"type": "AdamW", "amsgrad": "yes"}, r"^amsgrad must be true or false, got 'yes'$"),
    ({"type": "RMSprop", "alpha": -0.01}, r"^alpha must be a finite number >= 0, got -0.01$"),
    ({"type": "RMSprop", "eps": -1e-8}, r"^eps must be a finite number >= 0, got -1e-08$"),
    ({"type": "RMSprop", "eps": float("nan")}, r"^eps must be a finite number >= 0, got nan$"),
    ({"type": "RMSprop", "momentum": -0.9}, r"^momentum must be a finite number >= 0, got -0.9$"),
    ({"type": "RMSprop", "weight_decay": -1}, r"^weight_decay must be a finite number >= 0, got -1$"),
    ({"type": "RMSprop", "centered": "no"}, r"^centered must be true or false, got 'no'$"),
    ({"type": "Adagrad", "lr_decay": -0.1}, r"^lr_decay must be a finite number >= 0, got -0.1$"),
    ({"type": "Adagrad", "weight_decay": -0.1}, r"^weight_decay must be a finite number >= 0, got -0.1$"),
    ({"type": "Adagrad", "initial_accumulator_value": -1.0},
     r"^initial_accumulator_value must be a finite number >= 0, got -1.0$"),
    ({"type": "Adagrad", "eps": -1e-10}, r"^eps must be a finite number >= 0, got -1e-10$"),
    ({"type": "NAdam", "betas": [1.0, 0.999]}, r"^betas\[0\] must be a finite number >= 0 and < 1, got 1.0$"),
    ({"type": "NAdam", "betas": [0.9, -0.5]}, r"^betas\[1\] must be a finite number >= 0 and < 1, got -0.5$"),
    ({"type": "NAdam", "betas": 0.9}, r"^betas must be two numbers \[beta1, beta2\], got 0.9$"),
    ({"type": "NAdam", "eps": -1.0}, r"^eps must be a finite number >= 0, got -1.0$"),
    ({"type": "NAdam", "weight_decay": -0.1}, r"^weight_decay must be a finite number >= 0, got -0.1$"),
    ({"type": "NAdam", "momentum_decay": -0.004},
     r"^momentum_decay must be a finite number >= 0, got -0.004$"),
    ({"type": "RAdam", "betas": [0.9, 1.5]}, r"^betas\[1\] must be a finite number >= 0 and < 1, got 1.5$"),
    ({"type": "RAdam", "betas": [0.9, 0.99, 0.9]}, r"^betas must be two numbers .*, got \[0.9, 0.99, 0.9\]$"),
    ({"type": "RAdam", "eps": float("inf")}, r"^eps must be a finite number >= 0, got inf$"),
    ({"type": "RAdam", "weight_decay": -0.1}, r"^weight_decay must be a finite number >= 0, got -0.1$"),
])
def test_bad_hyperparameters_are_rejected(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ln.InvalidArgument, match=message) as caught:
        get_optimizer(spec, _model().parameters())
    assert message.startswith("^" + re.escape(caught.value.argument) + " must")


def test_empty_parameter_list_is_rejected() -> None:
    with pytest.raises(ln.InvalidArgument, match="params must be a non-empty list of parameters"):
        ln.Adam([])


def test_a_standalone_non_contiguous_parameter_is_updated() -> None:
    """The 0.1 bug: a transposed array never moved. Parameters are now contiguous by construction."""
    p = ln.Parameter(np.arange(6.0).reshape(2, 3).T)
    opt = ln.SGD([p], lr=0.1)
    p.grad[...] = 1
    opt.step()
    np.testing.assert_array_equal(p.value, np.arange(6.0).reshape(2, 3).T - 0.1)


def test_a_parameter_rebound_to_a_non_contiguous_array_is_refused() -> None:
    p = ln.Parameter(np.zeros((2, 3)), name="w")
    p.value = np.zeros((3, 2)).T
    with pytest.raises(ln.InvalidArgument, match=r"w.value must be C-contiguous"):
        ln.SGD([p], lr=0.1)


def test_the_model_buffer_is_stepped_as_one_array() -> None:
    model = _model()
    optimizer = ln.SGD(model.parameters(), lr=0.1)
    assert model.buffer is not None and len(optimizer._groups) == 1
    assert optimizer._groups[0][0] is model.buffer.values
    same = ln.SGD(model.buffer, lr=0.1)
    assert same._groups[0][0] is model.buffer.values and same.params == model.parameters()
    subset = ln.SGD(model.parameters()[:1], lr=0.1)
    assert len(subset._groups) == 1 and subset._groups[0][0].base is not None


def test_unknown_optimizer_suggests_a_name() -> None:
    with pytest.raises(KeyError, match="did you mean 'Adam'"):
        get_optimizer("adam_", _model().parameters())


@pytest.mark.parametrize("spec", OPTIMIZER_SPECS)
def test_optimizer_config_round_trip(spec: dict[str, Any]) -> None:
    optimizer = get_optimizer(spec, _model().parameters())
    config = optimizer_config(optimizer)
    again = get_optimizer(config, _model().parameters())
    assert optimizer_config(again) == config
    assert {k: v for k, v in config.items() if k in spec} == spec
    assert repr(again).startswith(f"{spec['type']}(lr=")


# -- update rules ----------------------------------------------------------------------------------

def test_plain_sgd_is_the_seeds_gradient_descent() -> None:
    model = _model()
    before = model.get_weights()
    _grads(model, 0)
    grads = {n: p.grad.copy() for n, p in model.named_parameters().items()}
    ln.SGD(model.parameters(), lr=0.1).step()
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(value, before[name] - 0.1 * grads[name], rtol=1e-15)


def test_adam_first_step_moves_each_weight_by_lr() -> None:
    """With bias correction the first Adam step is ``lr · sign(g)`` (up to eps)."""
    model = _model()
    before = model.get_weights()
    _grads(model, 0)
    signs = {n: np.sign(p.grad) for n, p in model.named_parameters().items()}
    ln.Adam(model.parameters(), lr=0.01).step()
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(before[name] - value, 0.01 * signs[name], rtol=1e-6)


def test_adamw_decays_weights_even_without_gradient() -> None:
    model = _model()
    before = model.get_weights()
    ln.AdamW(model.parameters(), lr=0.1, weight_decay=0.5).step()
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(value, before[name] * (1 - 0.1 * 0.5), rtol=1e-12)


def test_a_changed_learning_rate_applies_to_the_next_step() -> None:
    model = _model()
    optimizer = ln.SGD(model.parameters(), lr=0.1)
    optimizer.lr = 0.0125
    before = model.get_weights()
    _grads(model, 1)
    grad = model[0].weight.grad.copy()
    optimizer.step()
    np.testing.assert_allclose(model[0].weight.value, before["layers.0.weight"] - 0.0125 * grad)


# -- packed buffers ------------------------------------------------------------------------------

def test_packed_model_parameters_form_a_single_group() -> None:
    model = _model()
    optimizer = ln.Adam(model.parameters())
    assert len(optimizer._groups) == 1
    value, grad = optimizer._groups[0]
    assert value.size == model.num_parameters
    assert all(np.shares_memory(p.value, value) and np.shares_memory(p.grad, grad)
               for p in model.parameters())


@pytest.mark.parametrize("spec", OPTIMIZER_SPECS)
def test_loose_parameters_update_like_packed_ones(spec: dict[str, Any]) -> None:
    packed = _model()
    loose = _model()
    params = [ln.Parameter(p.value.copy(), p.name) for p in loose.parameters()]
    optimizer = get_optimizer(spec, params)
    assert len(optimizer._groups) == len(params)
    reference = get_optimizer(spec, packed.parameters())
    for step in range(3):
        _grads(packed, step)
        for p, q in zip(params, packed.parameters()):
            p.grad[...] = q.grad
        reference.step()
        optimizer.step()
    for p, q in zip(params, packed.parameters()):
        np.testing.assert_allclose(p.value, q.value, rtol=1e-14)


def test_zero_grad_clears_the_models_gradients() -> None:
    model = _model()
    optimizer = ln.SGD(model.parameters())
    _grads(model, 0)
    optimizer.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_an_optimizer_of_a_one_shot_iterator_zeroes_its_gradients() -> None:
    model = _model()
    optimizer = ln.SGD(iter(model.parameters()), lr=0.1)
    assert optimizer.params == model.parameters()
    _grads(model, 0)
    optimizer.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


@pytest.mark.parametrize("spec", OPTIMIZER_SPECS)
def test_a_step_after_zero_grad_alone_sees_zero_gradients(spec: dict[str, Any]) -> None:
    """zero_grad defers its zeros; step writes them before reading the flat gradient array."""
    deferred, eager = _model(), _model()
    optimizers = [get_optimizer(spec, m.parameters()) for m in (deferred, eager)]
    _grads(deferred, 0)
    optimizers[0].zero_grad()                  # the stale values stay in memory until needed
    for p in eager.parameters():
        p.grad[...] = 0
    for optimizer in optimizers:
        optimizer.step()
    for p, q in zip(deferred.parameters(), eager.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
        assert not p.grad.any()


# -- state --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", OPTIMIZER_SPECS)
def test_resuming_from_state_dict_equals_an_uninterrupted_run(spec: dict[str, Any]) -> None:
    straight = _model()
    _train(straight, get_optimizer(spec, straight.parameters()), range(10))

    resumed = _model()
    first = get_optimizer(spec, resumed.parameters())
    _train(resumed, first, range(5))
    state = {k: v.copy() for k, v in first.state_dict().items()}
    second = get_optimizer(spec, resumed.parameters())
    second.load_state_dict(state)
    _train(resumed, second, range(5, 10))

    assert second.steps == 10
    for name, value in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value, err_msg=name)


@pytest.mark.parametrize("spec,slots", [
    (OPTIMIZER_SPECS[0], set()), (OPTIMIZER_SPECS[1], {"momentum_buffer"}),
    (OPTIMIZER_SPECS[3], {"exp_avg", "exp_avg_sq"}), (OPTIMIZER_SPECS[5], {"exp_avg", "exp_avg_sq"}),
    (OPTIMIZER_SPECS[6], {"momentum_buffer"}),
    (OPTIMIZER_SPECS[7], {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    (OPTIMIZER_SPECS[8], {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    (OPTIMIZER_SPECS[9], {"square_avg"}), (OPTIMIZER_SPECS[10], {"square_avg", "momentum_buffer", "grad_avg"}),
    (OPTIMIZER_SPECS[11], {"sum"}), (OPTIMIZER_SPECS[12], {"exp_avg", "exp_avg_sq"}),
    (OPTIMIZER_SPECS[14], {"exp_avg", "exp_avg_sq"}),
])
def test_state_dict_holds_flat_slots_after_a_step(spec: dict[str, Any], slots: set[str]) -> None:
    model = _model()
    optimizer = get_optimizer(spec, model.parameters())
    scalars = {"mu_product"} if spec["type"] == "NAdam" else set()
    assert set(optimizer.state_dict()) == {"steps", "lr"} | scalars
    _train(model, optimizer, range(1))
    state = optimizer.state_dict()
    assert set(state) == {"steps", "lr"} | scalars | slots
    assert int(state["steps"]) == 1 and float(state["lr"]) == spec["lr"]
    assert all(state[slot].shape == (model.num_parameters,) for slot in slots)


def test_load_state_dict_rejects_a_state_of_another_size() -> None:
    small, big = _model(), ln.Sequential([ln.Dense(7)], input_shape=(5,), dtype=np.float64)
    source = ln.Adam(small.parameters())
    _train(small, source, range(1))
    with pytest.raises(ValueError, match=r"exp_avg must be 42 values \(one per parameter\), got \d+"):
        ln.Adam(big.parameters()).load_state_dict(source.state_dict())


# -- options: SGD dampening, AMSGrad --------------------------------------------------------------

def test_sgd_dampening_scales_the_gradient_after_the_first_step() -> None:
    p = ln.Parameter(np.zeros(3))
    optimizer = ln.SGD([p], lr=0.1, momentum=0.5, dampening=0.25)
    p.grad[...] = [1.0, 2.0, 3.0]
    optimizer.step()
    np.testing.assert_array_equal(optimizer.state_dict()["momentum_buffer"], [1.0, 2.0, 3.0])
    p.grad[...] = [4.0, 4.0, 4.0]
    optimizer.step()
    np.testing.assert_allclose(optimizer.state_dict()["momentum_buffer"], [3.5, 4.0, 4.5], rtol=1e-15)


def test_amsgrad_keeps_the_largest_second_moment() -> None:
    p = ln.Parameter(np.zeros(2))
    optimizer = ln.Adam([p], lr=0.01, betas=(0.9, 0.5), amsgrad=True)
    for grad in ([4.0, 0.0], [0.0, 1.0], [0.0, 0.0]):
        p.grad[...] = grad
        optimizer.step()
    state = optimizer.state_dict()
    np.testing.assert_allclose(state["exp_avg_sq"], [2.0, 0.25], rtol=1e-15)
    np.testing.assert_allclose(state["max_exp_avg_sq"], [8.0, 0.5], rtol=1e-15)


def test_an_amsgrad_optimizer_refuses_a_state_without_its_maximum() -> None:
    model = _model()
    plain_adam = ln.Adam(model.parameters())
    _train(model, plain_adam, range(1))
    with pytest.raises(ln.InvalidArgument, match=r"^state must be complete: exp_avg, exp_avg_sq, "
                                                 r"max_exp_avg_sq, got 'no max_exp_avg_sq'$"):
        ln.Adam(model.parameters(), amsgrad=True).load_state_dict(plain_adam.state_dict())


# -- RMSprop, Adagrad, NAdam, RAdam ------------------------------------------------------------------

def test_adagrad_accumulates_from_its_initial_value() -> None:
    p = ln.Parameter(np.zeros(2))
    optimizer = Adagrad([p], lr=0.5, initial_accumulator_value=3.0, eps=0.0)
    p.grad[...] = [1.0, -2.0]
    optimizer.step()
    np.testing.assert_array_equal(optimizer.state_dict()["sum"], [4.0, 7.0])
    np.testing.assert_allclose(p.value, [-0.5 / 2.0, 1.0 / np.sqrt(7.0)], rtol=1e-15)


def test_rmsprop_first_step_divides_by_the_scaled_gradient() -> None:
    """After one step the squared average is ``(1 − α) g²``, so the step is ``lr / √(1 − α)`` · sign(g)."""
    p = ln.Parameter(np.zeros(3))
    p.grad[...] = [0.5, -2.0, 3.0]
    RMSprop([p], lr=0.01, alpha=0.75, eps=0.0).step()
    np.testing.assert_allclose(p.value, -0.01 / np.sqrt(0.25) * np.sign([0.5, -2.0, 3.0]), rtol=1e-15)


def test_radam_steps_by_momentum_alone_until_the_variance_is_tractable() -> None:
    """With β₂ = 0.999 the approximated SMA length first exceeds 5 at step 6."""
    p = ln.Parameter(np.zeros(1))
    optimizer = RAdam([p], lr=0.1, betas=(0.5, 0.999))
    moves = []
    for _ in range(7):
        p.grad[...] = 2.0
        before = p.value.copy()
        optimizer.step()
        moves.append(float((before - p.value)[0]))
    # un-rectified: lr · m̂ = lr · g exactly (a constant gradient has m̂ = g)
    np.testing.assert_allclose(moves[:5], [0.2] * 5, rtol=1e-15)
    assert moves[5] != pytest.approx(0.2) and moves[6] != pytest.approx(0.2)


def test_nadam_saves_and_checks_mu_product() -> None:
    model = _model()
    optimizer = NAdam(model.parameters(), momentum_decay=0.004)
    assert float(optimizer.state_dict()["mu_product"]) == 1.0
    _train(model, optimizer, range(3))
    mus = [0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)) for t in (1, 2, 3)]
    state = optimizer.state_dict()
    assert state["mu_product"].shape == () and state["mu_product"].dtype == np.float64
    assert float(state["mu_product"]) == pytest.approx(mus[0] * mus[1] * mus[2], rel=1e-15)
    fresh = NAdam(model.parameters())
    fresh.load_state_dict(state)
    assert fresh.mu_product == optimizer.mu_product and fresh.steps == 3


@pytest.mark.parametrize("mu_product,message", [
    (None, r"^mu_product must be a single number in the optimizer state, got None$"),
    (np.array([0.5, 0.5]), r"^mu_product must be a single number in the optimizer state, got array"),
    (np.array(float("nan")), r"^mu_product must be a finite number >= 0 and <= 1, got nan$"),
    (np.array(float("inf")), r"^mu_product must be a finite number >= 0 and <= 1, got inf$"),
    (np.array(1.5), r"^mu_product must be a finite number >= 0 and <= 1, got 1.5$"),
    (np.array(-0.1), r"^mu_product must be a finite number >= 0 and <= 1, got -0.1$"),
])
def test_nadam_refuses_a_bad_mu_product(mu_product: Any, message: str) -> None:
    model = _model()
    source = NAdam(model.parameters())
    _train(model, source, range(2))
    state = source.state_dict()
    if mu_product is None:
        del state["mu_product"]
    else:
        state["mu_product"] = mu_product
    target = NAdam(model.parameters())
    with pytest.raises(ln.InvalidArgument, match=message) as caught:
        target.load_state_dict(state)
    assert caught.value.argument == "mu_product"
    assert target.steps == 0 and target.mu_product == 1.0 and target.state_dict().keys() == {
        "steps", "lr", "mu_product"}


# -- checkpoints and allocation ---------------------------------------------------------------------------

def _through_npz(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``state`` written to and read back from an ``.npz`` archive, as a checkpoint stores it."""
    stream = io.BytesIO()
    np.savez(stream, **state)
    stream.seek(0)
    with np.load(stream) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.mark.parametrize("spec", OPTIMIZER_SPECS)
def test_state_survives_an_npz_round_trip_bit_for_bit(spec: dict[str, Any]) -> None:
    straight = _model()
    _train(straight, get_optimizer(spec, straight.parameters()), range(20))

    resumed = _model()
    first = get_optimizer(spec, resumed.parameters())
    _train(resumed, first, range(10))
    second = get_optimizer(optimizer_config(first), resumed.parameters())
    second.load_state_dict(_through_npz(first.state_dict()))
    _train(resumed, second, range(10, 20))

    np.testing.assert_array_equal(resumed.buffer.values if resumed.buffer else [],
                                  straight.buffer.values if straight.buffer else [])
    for key, value in first.state_dict().items():
        assert second.state_dict()[key].dtype == value.dtype, key


@pytest.mark.parametrize("layout", ["buffer", "standalone"])
@pytest.mark.parametrize("spec", OPTIMIZER_SPECS + [
    {"type": "SGD", "lr": 0.1, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1},
    {"type": "RMSprop", "lr": 0.01, "momentum": 0.5}, {"type": "RMSprop", "lr": 0.01, "centered": True},
    {"type": "Adagrad", "lr": 0.1}, {"type": "NAdam", "lr": 0.01, "weight_decay": 0.1},
])
def test_steps_allocate_nothing(spec: dict[str, Any], layout: str) -> None:
    """After the first step (state and work arrays) a step allocates no array at all.

    Every parameter holds at least 1 KiB, so any temporary of a parameter's size
    would take the traced peak over the bound. Steps 2 to 9 cover RAdam's
    un-rectified and rectified branches; a first optimiser runs them untraced so
    numpy's one-off caches of a code path are not counted.
    """
    def make() -> tuple[list[ln.Parameter], ln.Optimizer]:
        model = ln.Sequential([ln.Dense(128), ln.ReLU(), ln.Dense(128)], input_shape=(64,), seed=0,
                              dtype=np.float64)
        params = (model.parameters() if layout == "buffer"
                  else [ln.Parameter(p.value.copy(), p.name) for p in model.parameters()])
        for p in params:
            p.grad[...] = np.linspace(-1, 1, p.size).reshape(p.shape)
        return params, get_optimizer(spec, params)

    warm_params, warm = make()
    for _ in range(9):
        warm.step()
    params, optimizer = make()
    assert min(p.value.nbytes for p in params) >= 1024
    optimizer.step()
    tracemalloc.start()
    try:
        for _ in range(8):
            optimizer.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024


# -- the compiled Adam kernel (numba, the [fast] extra) -------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", [s for s in OPTIMIZER_SPECS if s["type"].startswith("Adam")])
def test_the_compiled_adam_kernel_gives_the_numpy_passes_numbers_bit_for_bit(
        monkeypatch: pytest.MonkeyPatch, spec: dict[str, Any], dtype: Any) -> None:
    pytest.importorskip("numba")
    assert kernels.adam_kernel() is not None
    size = optimizers.CHUNK + 1000                     # two chunks for the numpy passes
    rng = np.random.default_rng(7)
    start = rng.standard_normal(size).astype(dtype)
    results = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(optimizers, "adam_kernel", lambda: None)
        p = ln.Parameter(start.copy(), "w")
        optimizer = get_optimizer(spec, [p])
        for step in range(5):
            p.grad[...] = np.random.default_rng(step).standard_normal(size).astype(dtype) + 0.1 * p.value
            optimizer.step()
        results.append((p.value.copy(), optimizer.state_dict()))
    (kernel_value, kernel_state), (numpy_value, numpy_state) = results
    np.testing.assert_array_equal(kernel_value, numpy_value)
    for slot in optimizer.slots:
        np.testing.assert_array_equal(kernel_state[slot], numpy_state[slot])


def test_the_compiled_kernels_can_be_turned_off_and_are_absent_without_numba(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kernels.adam_kernel.cache_clear()
    monkeypatch.setenv(kernels.KERNELS_VARIABLE, "numpy")
    assert kernels.adam_kernel() is None
    kernels.adam_kernel.cache_clear()
    monkeypatch.delenv(kernels.KERNELS_VARIABLE)
    monkeypatch.setitem(sys.modules, "numba", None)          # import numba raises ImportError
    assert kernels.adam_kernel() is None
    kernels.adam_kernel.cache_clear()


def test_a_mistyped_kernel_choice_is_refused_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(kernels.KERNELS_VARIABLE, "nunpy")
    model = _model()
    with pytest.raises(ln.LayernetError, match=r"LAYERNET_KERNELS.*numba or numpy"):
        ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters()))
    monkeypatch.setenv(kernels.KERNELS_VARIABLE, " NumPy ")
    assert kernels.kernel_choice() == "numpy"


def test_a_damaged_kernel_cache_compiles_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    numba = pytest.importorskip("numba")
    kernels.adam_kernel.cache_clear()
    plain = numba.njit

    def no_cache(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function: no locator available")
        return plain(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", no_cache)
    assert kernels.adam_kernel() is not None
    kernels.adam_kernel.cache_clear()
