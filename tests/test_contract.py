"""The contracts of every registered layer, loss and schedule, checked with :mod:`layernet.testing`.

One table per family: ``LAYER_TABLE`` (constructor arguments, an input shape and
options shared by ``check_layer`` and ``layernet.gradcheck``), ``LOSS_TABLE`` and
``SCHEDULE_TABLE``. Every class registered by layernet or by the example plugin
``examples.custom_layers`` needs an entry: a new one without it fails
``test_every_registered_class_has_an_entry`` and its own ``...-missing`` test.
``tests/test_layers.py`` (and through it ``tests/test_model.py``) and
``tests/test_config_roundtrip.py`` read their layer cases from ``LAYER_TABLE``.

The second half checks that the helpers catch broken layers, losses and schedules,
each at the right check.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.layers.base import LAYERS, Layer
from layernet.losses import LOSSES, MSE, Loss
from layernet.registry import Registry
from layernet.schedules import SCHEDULES, Schedule
from layernet.testing import (LAYER_CHECKS, CheckReport, ContractError, GradientContractError,
                              check_layer, check_loss, check_schedule)

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # so the `examples` plugin package is importable

import examples.custom_layers  # noqa: E402  (registers Swish and Scale before the tables are read)


# -- the tables ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerCase:
    """One way to build a layer: constructor ``kwargs``, a sample ``input_shape``, and options
    accepted by both :func:`layernet.testing.check_layer` and :func:`layernet.gradcheck`
    (``training``, ``max_entries``, ``batch_size``, ``tolerance``, ``inputs``)."""

    kwargs: dict[str, Any]
    input_shape: tuple[int, ...]
    check: dict[str, Any] = field(default_factory=dict)


#: Cases per registered layer name. Layers of branches not merged yet may have entries
#: before they are registered (``PENDING_LAYERS``); their cases run once they are.
LAYER_TABLE: dict[str, list[LayerCase]] = {
    "Dense": [LayerCase({"units": 3}, (4,)),
              LayerCase({"units": 2, "use_bias": False, "init": "he_normal"}, (5,)),
              LayerCase({"units": 4, "init": {"uniform": {"low": -0.5, "high": 0.5}},
                         "bias_init": {"normal": {"std": 0.1}}, "name": "hidden"}, (3,)),
              LayerCase({"units": 7, "init": {"uniform": {"low": -0.3, "high": 0.2}},
                         "bias_init": "ones", "use_bias": True, "name": "hidden"}, (5,))],
    "Dropout": [LayerCase({"rate": 0.4}, (6,), {"training": True}),
                LayerCase({"rate": 0.4}, (2, 3), {"training": False}),
                LayerCase({"rate": 0.0}, (5,), {"training": True}),
                LayerCase({"rate": 0.25}, (5,))],
    "Flatten": [LayerCase({}, (2, 3)), LayerCase({}, (2, 3, 2))],
    "Reshape": [LayerCase({"shape": [3, 2]}, (6,)), LayerCase({"shape": (4, 3)}, (2, 6))],
    "ReLU": [LayerCase({}, (5,)), LayerCase({}, (2, 3))],
    "LeakyReLU": [LayerCase({"alpha": 0.2}, (5,)), LayerCase({}, (2, 3))],
    "Sigmoid": [LayerCase({}, (5,))],
    "Tanh": [LayerCase({}, (5,))],
    "Softmax": [LayerCase({}, (4,))],
    # the example plugin (examples/custom_layers.py)
    "Swish": [LayerCase({"beta": 1.5}, (5,)), LayerCase({"beta": -0.7}, (2, 3))],
    "Scale": [LayerCase({"init": {"normal": {"std": 0.1, "mean": 1.0}}}, (5,)),
              LayerCase({"init": {"uniform": {"low": 0.5, "high": 2.0}}}, (2, 3))],
    # convolution and normalisation layers (used once registered)
    "Conv2D": [LayerCase({"filters": 3, "kernel_size": 3}, (2, 6, 6))],
    "Conv1D": [LayerCase({"filters": 3, "kernel_size": 3}, (2, 7))],
    "MaxPool2D": [LayerCase({"pool_size": 2}, (2, 6, 6))],
    "AvgPool2D": [LayerCase({"pool_size": 2}, (2, 6, 6))],
    "GlobalAvgPool2D": [LayerCase({}, (2, 5, 5))],
    # Training-mode gradients are checked too: they once failed because gradcheck's projection R
    # equalled check_layer's input X (both drawn from default_rng(seed)), and BatchNorm's input
    # gradient along R = X is only its eps term (see layernet.gradcheck._projection_rng).
    "BatchNorm": [LayerCase({}, (3,), {"training": True}), LayerCase({}, (2, 4, 4), {"training": True})],
}
#: Table entries allowed before their layer is registered (other branches).
PENDING_LAYERS: set[str] = set()


@dataclass(frozen=True)
class LossCase:
    """Constructor ``kwargs`` and ``check_loss`` options (``inputs``, ``targets``, ...); predictions
    have shape ``(4, 3)`` (``input_shape`` ``(3,)``) unless the options say otherwise."""

    kwargs: dict[str, Any]
    check: dict[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, ...] = (3,)


_rng = np.random.default_rng(7)
_probs = _rng.uniform(0.05, 0.95, size=(4, 3))
LOSS_TABLE: dict[str, list[LossCase]] = {
    "CrossEntropy": [
        LossCase({}), LossCase({"from_logits": True}),
        LossCase({"from_logits": True}, {"targets": np.array([0, 2, 1, 2])}),
        LossCase({"from_logits": True}, {"targets": np.eye(3)[[1, 1, 0, 2]]}),
        LossCase({}, {"targets": np.array([2, 0, 1, 1]), "inputs": _probs}),
        LossCase({}, {"targets": np.eye(3)[[0, 2, 2, 1]], "inputs": _probs}),
    ],
    "MSE": [
        LossCase({}),
        LossCase({}, {"targets": _rng.standard_normal((4, 3))}),
        LossCase({}, {"targets": np.array([1, 0, 2, 2])}),
    ],
    "BinaryCrossEntropy": [
        LossCase({}), LossCase({"from_logits": True}), LossCase({}, input_shape=(1,)),
        LossCase({}, {"targets": (_rng.random((4, 3)) > 0.5).astype(float), "inputs": _probs}),
        LossCase({"from_logits": True}, {"targets": (_rng.random((4, 3)) > 0.5).astype(float)}),
        LossCase({"from_logits": True}, {"targets": _rng.random((4, 3))}),
    ],
}


@dataclass(frozen=True)
class ScheduleCase:
    """Constructor ``kwargs`` and ``check_schedule`` options."""

    kwargs: dict[str, Any]
    check: dict[str, Any] = field(default_factory=dict)


SCHEDULE_TABLE: dict[str, list[ScheduleCase]] = {
    "Constant": [ScheduleCase({}), ScheduleCase({"warmup_epochs": 2})],
    "StepDecay": [ScheduleCase({"step_size": 3, "gamma": 0.5}),
                  ScheduleCase({"step_size": 2, "gamma": 0.1, "warmup_epochs": 1}, {"base_lr": 2.0})],
    "ExponentialDecay": [ScheduleCase({}), ScheduleCase({"gamma": 0.8}),
                         ScheduleCase({"gamma": 0.95, "warmup_epochs": 3}, {"epochs": 40})],
    "CosineDecay": [ScheduleCase({"epochs": 8}, {"epochs": 12}),
                    # an absolute floor: affine, not proportional, in base_lr
                    ScheduleCase({"epochs": 5, "min_lr": 0.001, "warmup_epochs": 2},
                                 {"skip": ["scaling"]})],
}


def registered_names(registry: Registry[Any]) -> list[str]:
    """Names registered by layernet itself or by the example plugin (not by other tests)."""
    return [name for name, cls in registry.items()
            if cls.__module__.startswith(("layernet.", "examples."))]


def params(registry: Registry[Any], table: dict[str, list[Any]]) -> list[Any]:
    """``pytest.param(name, case)`` for every case of every registered name, and
    ``pytest.param(name, None)`` (a failing test) for a registered name without an entry."""
    found = []
    for name in registered_names(registry):
        cases = table.get(name) or [None]
        found += [pytest.param(name, case, id=f"{name}-{i}" if case else f"{name}-missing")
                  for i, case in enumerate(cases)]
    return found


def make(name: str, case: LayerCase) -> Layer:
    """A fresh, unbuilt layer for ``case``."""
    return LAYERS.get(name)(**case.kwargs)


def require(case: Any, kind: str, name: str, table: str) -> None:
    if case is None:
        pytest.fail(f"{kind} {name!r} is registered but has no {table} entry in tests/test_contract.py; "
                    f"add its constructor arguments (and input shape) there")


# -- every registered class keeps its contract -------------------------------------------------------

@pytest.mark.parametrize("name,case", params(LAYERS, LAYER_TABLE))
def test_layer_contract(name: str, case: LayerCase | None) -> None:
    require(case, "layer", name, "LAYER_TABLE")
    assert case is not None
    layer = make(name, case)
    report = check_layer(layer, case.input_shape, **case.check)
    always = set(LAYER_CHECKS) - {"gradients_training", "accumulation"}
    assert always <= set(report.passed), report
    with_parameters = bool(ln.Sequential([make(name, case)], input_shape=case.input_shape).parameters())
    assert ("accumulation" in report.passed) == with_parameters
    if case.check.get("training"):
        assert "gradients_training" in report.passed
    assert not layer.built, "check_layer must work on copies"
    lost = [key for key in case.kwargs if key not in layer.get_config()]
    assert not lost, f"{name}.get_config() loses the arguments {lost}"


@pytest.mark.parametrize("name,case", params(LOSSES, LOSS_TABLE))
def test_loss_contract(name: str, case: LossCase | None) -> None:
    require(case, "loss", name, "LOSS_TABLE")
    assert case is not None
    loss = LOSSES.get(name)(**case.kwargs)
    report = check_loss(loss, case.input_shape, **case.check)
    expected = {"registration", "dtype", "inputs_unchanged", "batch_mean", "gradients", "config"}
    if loss.link is not None:
        expected.add("logits")
    assert expected <= set(report.passed), report


@pytest.mark.parametrize("name,case", params(SCHEDULES, SCHEDULE_TABLE))
def test_schedule_contract(name: str, case: ScheduleCase | None) -> None:
    require(case, "schedule", name, "SCHEDULE_TABLE")
    assert case is not None
    report = check_schedule(SCHEDULES.get(name)(**case.kwargs), **case.check)
    assert set(report.passed) | set(report.skipped) == {"registration", "rates", "determinism",
                                                        "scaling", "warmup", "config"}
    assert set(report.skipped) <= set(case.check.get("skip", ())), report


def test_every_registered_class_has_an_entry() -> None:
    for kind, registry, table in [("layer", LAYERS, LAYER_TABLE), ("loss", LOSSES, LOSS_TABLE),
                                  ("schedule", SCHEDULES, SCHEDULE_TABLE)]:
        missing = [name for name in registered_names(registry) if not table.get(name)]
        assert not missing, f"registered {kind}s without an entry in tests/test_contract.py: {missing}"
    assert {"Swish", "Scale"} <= set(registered_names(LAYERS))
    assert {"Constant", "ExponentialDecay"} <= set(registered_names(SCHEDULES))


def test_every_table_entry_names_a_registered_class() -> None:
    unknown = set(LAYER_TABLE) - set(LAYERS) - PENDING_LAYERS
    unknown |= set(LOSS_TABLE) - set(LOSSES)
    unknown |= set(SCHEDULE_TABLE) - set(SCHEDULES)
    assert not unknown, f"table entries for unregistered names (a typo?): {sorted(unknown)}"


# -- the helpers catch broken layers -----------------------------------------------------------------

class _WrongSquare(Layer):
    """``Y = X²`` whose backward forgets the factor 2."""

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._x = x
        return x * x

    def backward(self, dY: np.ndarray) -> np.ndarray:
        return dY * self._x


class _AssigningScale(Layer):
    """``Y = X · γ`` whose backward assigns ``γ.grad`` instead of adding into it."""

    def create_parameters(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        self.gamma = self.add_parameter("gamma", input_shape, "ones", rng)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._x = x
        return x * self.gamma.value

    def backward(self, dY: np.ndarray) -> np.ndarray:
        self.gamma.grad = (dY * self._x).sum(axis=0)  # the bug: `=` rather than `+=`
        return dY * self.gamma.value


class _PartlyFilledScale(_AssigningScale):
    """``Y = X · γ`` whose backward, told to overwrite ``γ.grad`` (``grad_to_fill``), writes only
    part of it: the rest keeps whatever an earlier step left there."""

    def backward(self, dY: np.ndarray) -> np.ndarray:
        grad, add = self.gamma.grad_to_fill()
        contribution = (dY * self._x).sum(axis=0)
        if add:
            grad += contribution
        else:
            grad[:1] = contribution[:1]          # the bug: grad[1:] is not written
        return dY * self.gamma.value


class _BatchCentred(Layer):
    """``Y = X − mean over the batch`` (a correct backward, but rows depend on each other)."""

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        return x - x.mean(axis=0, keepdims=True)

    def backward(self, dY: np.ndarray) -> np.ndarray:
        return dY - dY.mean(axis=0, keepdims=True)


class _ForgetfulConfig(Layer):
    """``Y = factor · X`` whose get_config forgets ``factor``."""

    def __init__(self, factor: float = 1.0, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.factor = factor

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        return x * self.factor

    def backward(self, dY: np.ndarray) -> np.ndarray:
        return dY * self.factor

    def get_config(self) -> dict[str, Any]:
        return {}


class _Float64Offset(Layer):
    """``Y = X + c`` with ``c`` a float64 array made outside ``add_parameter``: float32 in, float64 out."""

    def create_parameters(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        self.offset = np.full(input_shape, 0.5)

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        return x + self.offset

    def backward(self, dY: np.ndarray) -> np.ndarray:
        return dY


def failing_check(call: Any, expected: type[ContractError] = ContractError) -> ContractError:
    with pytest.raises(expected) as info:
        call()
    error = info.value
    assert "\n" not in str(error) and str(error).startswith(error.subject)
    assert f": {error.check} check failed: " in str(error)
    return error


@pytest.mark.parametrize("layer,check,message", [
    (_WrongSquare(), "gradients", r"eval mode: relative error above 1e-06 for input"),
    (_AssigningScale(), "accumulation", r"gamma\.grad is not twice that of one.*\+="),
    (_BatchCentred(), "batch_independence", r"batch of 4 differs from the forwards of its rows"),
    (_ForgetfulConfig(2.0), "config", r"rebuilt by from_config\(get_config\(\)\) gives other outputs"),
    (_Float64Offset(), "dtype", r"float32 input in a float32 model gave float64 output"),
])
def test_check_layer_names_the_broken_check(layer: Layer, check: str, message: str) -> None:
    error = failing_check(lambda: check_layer(layer, (3,), require_registered=False))
    assert error.check == check and error.subject == repr(layer)
    assert re.search(message, error.detail), error.detail
    assert isinstance(error, ln.LayernetError) and isinstance(error, AssertionError)


def test_a_gradient_overwritten_only_in_part_fails_the_gradient_and_accumulation_checks() -> None:
    """The checks start from stale gradients (NaN) behind a deferred zero_grad, as training does."""
    layer = _PartlyFilledScale()
    assert failing_check(lambda: check_layer(layer, (3,), require_registered=False)).check == "gradients"
    error = failing_check(lambda: check_layer(layer, (3,), require_registered=False,
                                              skip=["gradients", "gradients_training"]))
    assert error.check == "accumulation" and "grad_to_fill" in error.detail


def test_a_wrong_gradient_is_also_a_gradient_check_error() -> None:
    error = failing_check(lambda: check_layer(_WrongSquare(), (3,), require_registered=False),
                          GradientContractError)
    assert isinstance(error, ln.GradientCheckError)
    assert isinstance(error, GradientContractError) and not error.gradcheck.passed


def test_an_unregistered_layer_fails_clearly_or_skips_what_needs_registration() -> None:
    error = failing_check(lambda: check_layer(_BatchCentred(), (3,)))
    assert error.check == "registration"
    assert "@layernet.register_layer" in error.detail and "require_registered=False" in error.detail
    report = check_layer(examples.custom_layers.Swish(2.0), (3,))
    assert isinstance(report, CheckReport) and "yaml" in report.passed
    unregistered = check_layer(ln.Dropout(0.5), (3,), skip=["yaml"], training=False)
    assert unregistered.skipped["yaml"].startswith("skipped by the caller")
    assert unregistered.skipped["gradients_training"] == "training=False"


def test_skipping_the_registration_check_of_a_correct_unregistered_layer() -> None:
    class Double(Layer):
        def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
            return 2 * x

        def backward(self, dY: np.ndarray) -> np.ndarray:
            return 2 * dY

    report = check_layer(Double(), (2, 3), require_registered=False)
    assert {"yaml", "save_load", "registration"} <= set(report.skipped)
    assert "not registered" in report.skipped["yaml"] and "config" in report.passed
    assert "skipped" in str(report)


def test_check_layer_arguments_are_checked() -> None:
    with pytest.raises(ln.ShapeError, match="Flatten"):
        check_layer(ln.Dense(3), (2, 2))
    with pytest.raises(ln.InvalidArgument, match="skip must be one of"):
        check_layer(ln.ReLU(), (3,), skip=["gradient"])
    with pytest.raises(ln.InvalidArgument, match="batch_size"):
        check_layer(ln.ReLU(), (3,), batch_size=1)


# -- ... broken losses and schedules -----------------------------------------------------------------

class _HalfGradientMSE(MSE):
    """MSE whose backward forgets the factor 2."""

    def backward(self) -> np.ndarray:
        return super().backward() / 2


class _SummedMSE(Loss):
    """Squared error summed over the batch rather than averaged (gradient correct for the sum)."""

    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        diff = y_pred - np.asarray(y_true, dtype=y_pred.dtype)
        self._grad = 2 * diff
        return float(np.sum(diff * diff))

    def backward(self) -> np.ndarray:
        return self._grad


def test_check_loss_catches_a_wrong_gradient() -> None:
    error = failing_check(lambda: check_loss(_HalfGradientMSE(), (3,), require_registered=False),
                          GradientContractError)
    assert error.check == "gradients" and "input" in error.detail


def test_check_loss_catches_a_loss_that_is_not_a_batch_mean() -> None:
    error = failing_check(lambda: check_loss(_SummedMSE(), (3,), require_registered=False))
    assert error.check == "batch_mean"
    assert check_loss(_SummedMSE(), (3,), require_registered=False,
                      skip=["batch_mean"]).skipped["logits"].startswith("the loss has no link")


def test_check_loss_needs_registration_unless_told() -> None:
    error = failing_check(lambda: check_loss(_HalfGradientMSE(), (3,)))
    assert error.check == "registration" and "@layernet.LOSSES.register" in error.detail


class _ForgetfulDecay(Schedule):
    """``base_lr · gamma ** epoch`` whose get_config forgets ``gamma``."""

    def __init__(self, gamma: float = 0.9, warmup_epochs: int = 0) -> None:
        super().__init__(warmup_epochs)
        self.gamma = gamma

    def decay(self, epoch: int, base_lr: float) -> float:
        return base_lr * self.gamma ** epoch


class _Floored(Schedule):
    """A rate that never goes below an absolute 0.05: not proportional to base_lr."""

    def decay(self, epoch: int, base_lr: float) -> float:
        return max(base_lr * 0.5 ** epoch, 0.05)


def test_check_schedule_catches_a_bad_config_round_trip() -> None:
    error = failing_check(lambda: check_schedule(_ForgetfulDecay(0.5), require_registered=False))
    assert error.check == "config" and "get_config misses" in error.detail
    registration = failing_check(lambda: check_schedule(_ForgetfulDecay(0.5)))
    assert registration.check == "registration" and "@layernet.SCHEDULES.register" in registration.detail


def test_check_schedule_catches_rates_not_proportional_to_base_lr() -> None:
    error = failing_check(lambda: check_schedule(_Floored(), require_registered=False))
    assert error.check == "scaling" and "not three times" in error.detail
