"""Finite-difference gradient checks for layers, models and losses (float64)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import checks
from .errors import GradientCheckError
from .layers.base import Layer
from .losses import Loss
from .model import Sequential
from .objective import pair
from .typing import Array, Shape


@dataclass
class GradcheckReport:
    """Relative errors ``‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖)`` per checked array.

    Attributes:
        errors: ``{"input": e, "layers.0.weight": e, ...}``.
        tolerance: the largest error that passes.
    """

    errors: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-6

    @property
    def max_error(self) -> float:
        """The worst relative error."""
        return max(self.errors.values(), default=0.0)

    @property
    def passed(self) -> bool:
        """Whether every error is within ``tolerance``."""
        return self.max_error <= self.tolerance

    def __str__(self) -> str:
        lines = [f"  {name:<28} {err:.2e}  {'ok' if err <= self.tolerance else 'FAIL'}"
                 for name, err in self.errors.items()]
        verdict = "passed" if self.passed else "FAILED"
        return "\n".join([f"gradient check {verdict} (tolerance {self.tolerance:.0e})", *lines])


def gradcheck(target: Layer | Sequential | Loss, input_shape: Shape, *,
              inputs: npt.ArrayLike | None = None, targets: npt.NDArray[Any] | None = None,
              loss: Loss | None = None,
              training: bool = False, batch_size: int = 3, seed: int = 0, eps: float = 1e-6,
              tolerance: float = 1e-6, max_entries: int | None = None,
              raise_on_failure: bool = True) -> GradcheckReport:
    """Compare analytic gradients with central differences in float64.

    * A :class:`Layer` is copied, built in float64 for ``input_shape`` and checked
      on ``L = Σ R ⊙ layer(X)`` with a fixed random ``R``: the input gradient
      and every parameter gradient. ``R`` comes from a child stream of ``seed``, so it is
      independent of an input drawn as ``np.random.default_rng(seed).standard_normal``.
    * A :class:`Sequential` is rebuilt in float64 from its config (its weights
      copied when built) and checked the same way, or on ``loss(model(X), targets)``
      when ``loss`` is given — paired as in training (:func:`layernet.objective.pair`),
      which exercises the fused Softmax + CrossEntropy.
    * A :class:`Loss` is checked on ``dL/dy_pred`` for ``y_pred`` of shape
      ``(batch_size, *input_shape)`` against ``targets``.

    Randomness inside the check (dropout masks with ``training=True``) is
    replayed identically for every evaluation.

    Args:
        target: what to check.
        input_shape: one sample's shape (batch excluded).
        inputs: the input to check at, ``(batch, *input_shape)`` (default: standard
            normal); losses on probabilities need values in (0, 1).
        targets: targets for a loss (default: random integer labels).
        loss: for a model, the loss to differentiate instead of a random projection.
        training: run layers in training mode.
        batch_size: rows of the random input.
        seed: seeds the input, the projection and the clone's generator.
        eps: the finite-difference step.
        tolerance: the largest relative error that passes (default 1e-6).
        max_entries: check at most this many randomly chosen entries of each
            array (big layers: two forward passes per entry); None checks all.
        raise_on_failure: raise :class:`GradientCheckError` when the check fails.

    Returns:
        A :class:`GradcheckReport`.
    """
    if max_entries is not None:
        checks.integer("max_entries", max_entries, min=1)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((batch_size, *input_shape)) if inputs is None
         else np.array(inputs, dtype=np.float64))
    if isinstance(target, Loss):
        objective = _loss_objective(target, x, targets, rng)
    else:
        model = _float64_clone(target, tuple(input_shape), seed)
        objective = _model_objective(model, x, loss, targets, training, rng, seed)
    analytic = objective.gradients()
    report = GradcheckReport(tolerance=tolerance)
    for name, array in objective.arrays.items():
        entries = np.arange(array.size)
        if max_entries is not None and array.size > max_entries:
            entries = np.sort(rng.choice(array.size, size=max_entries, replace=False))
        numeric = _numeric_gradient(objective.value, array, eps, entries)
        report.errors[name] = _relative_error(analytic[name].reshape(-1)[entries], numeric)
    if raise_on_failure and not report.passed:
        raise GradientCheckError(f"{type(target).__name__}: {report}")
    return report


@dataclass
class _Objective:
    """A scalar function of the ``arrays`` it closes over, and its analytic gradients."""

    arrays: dict[str, Array]
    value: Callable[[], float]
    gradients: Callable[[], dict[str, Array]]


def _float64_clone(target: Layer | Sequential, input_shape: Shape, seed: int) -> Sequential:
    if isinstance(target, Sequential):
        config = {**target.get_config(), "dtype": "float64", "input_shape": list(input_shape)}
        clone = Sequential.from_config(config)
        if target.built:
            clone.set_weights({k: v.astype(np.float64) for k, v in target.get_weights().items()})
        return clone
    layer = copy.deepcopy(target)
    return Sequential([layer], input_shape=input_shape, seed=seed, dtype=np.float64)


def _projection_rng(seed: int) -> np.random.Generator:
    """The generator of the random projection ``R``: a child stream of ``seed``, independent of
    ``np.random.default_rng(seed)``.

    Drawing ``R`` from ``default_rng(seed)`` itself made it *equal* to an input drawn by the
    caller (or by :func:`layernet.testing.check_layer`) as ``default_rng(seed).standard_normal``
    whenever the layer keeps the input's shape. For most layers that is harmless, but
    BatchNorm's training-mode input gradient is orthogonal, per channel, to the constants
    and to ``X̂``, and ``R = X = μ + sqrt(σ² + eps)·X̂`` lies in their span: the exact
    gradient is then ``γ·eps·X̂ / (σ² + eps)``, about 1e-5, below the rounding noise of
    the central differences (``~ 1e-16·|L| / h`` = 1e-9 per entry for ``|L|`` = 8,
    ``h`` = 1e-6), and the relative error read 1.75e-5 for a correct layer.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def _model_objective(model: Sequential, x: Array, loss: Loss | None, targets: npt.NDArray[Any] | None,
                     training: bool, rng: np.random.Generator, seed: int) -> _Objective:
    state = copy.deepcopy(model.rng.bit_generator.state)
    output_shape = model.output_shape or ()
    projection = _projection_rng(seed).standard_normal((x.shape[0], *output_shape))
    labels = _default_targets(targets, x.shape[0], output_shape, rng)

    objective = pair(model, loss) if loss is not None else None
    stop = objective.stop if objective is not None else None

    def value() -> float:
        model.rng.bit_generator.state = copy.deepcopy(state)
        if objective is not None:
            return objective.forward(x, labels, training=training)[0]
        return float(np.sum(model.forward(x, training=training) * projection))

    def gradients() -> dict[str, Array]:
        value()
        model.zero_grad()
        grad = objective.computed.backward() if objective is not None else projection
        dx = model.backward(grad, start=stop)
        assert dx is not None
        return {"input": dx, **{n: p.grad.copy() for n, p in model.named_parameters().items()}}

    arrays = {"input": x, **{n: p.value for n, p in model.named_parameters().items()}}
    return _Objective(arrays, value, gradients)


def _loss_objective(loss: Loss, y_pred: Array, targets: npt.NDArray[Any] | None,
                    rng: np.random.Generator) -> _Objective:
    labels = _default_targets(targets, y_pred.shape[0], y_pred.shape[1:], rng)

    def value() -> float:
        return loss.forward(y_pred, labels)

    def gradients() -> dict[str, Array]:
        value()
        return {"input": loss.backward().copy()}

    return _Objective({"input": y_pred}, value, gradients)


def _default_targets(targets: npt.NDArray[Any] | None, batch: int, shape: Shape,
                     rng: np.random.Generator) -> npt.NDArray[Any]:
    if targets is not None:
        return targets
    return rng.integers(0, shape[-1] if shape else 1, size=batch)


def _numeric_gradient(f: Callable[[], float], array: Array, eps: float,
                      entries: npt.NDArray[np.intp]) -> Array:
    """Central differences of ``f`` with respect to the flat ``entries`` of ``array`` (perturbed in place)."""
    flat = array.reshape(-1)
    grad = np.zeros(len(entries))
    for k, i in enumerate(entries):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        grad[k] = (plus - minus) / (2 * eps)
    return grad


def _relative_error(analytic: Array, numeric: Array) -> float:
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)))
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0
