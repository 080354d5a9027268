"""Contract checks for your own layers, losses and schedules (the spirit of Keras's ``run_layer_test``).

::

    from layernet.testing import check_layer, check_loss, check_schedule

    check_layer(Swish(2.0), (5,))                 # every layer check; raises on the first failure
    check_loss(ln.CrossEntropy(), (4,))
    check_schedule(ln.CosineDecay(epochs=8), epochs=12)

Each helper runs a list of named checks (:data:`LAYER_CHECKS`, :data:`LOSS_CHECKS`,
:data:`SCHEDULE_CHECKS`) and returns a :class:`CheckReport` naming the checks
that passed and the ones skipped, with the reason. The first failing check raises
:class:`ContractError` (an ``AssertionError`` and a :class:`layernet.LayernetError`)
whose one-line message names the object, the check and what differed; a wrong
gradient raises :class:`GradientContractError`, which is also a
:class:`layernet.GradientCheckError`. An exception raised by the checked object
itself inside a check is reported the same way, as a :class:`ContractError` naming
the check (the original exception is its ``__cause__``).

Gradients are checked by :func:`layernet.gradcheck` (float64 central differences);
everything else runs on copies, so the object passed in is never built or changed.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import checks
from .config import model_from_yaml, model_to_yaml
from .errors import GradientCheckError, InvalidArgument, LayernetError, UnknownNameError
from .gradcheck import GradcheckReport, gradcheck
from .io.models import load_model
from .layers.base import LAYERS, Layer
from .losses import LOSSES, Loss
from .model import Sequential
from .registry import Registry
from .schedules import SCHEDULES, Schedule
from .typing import Array, DType, Shape

__all__ = ["LAYER_CHECKS", "LOSS_CHECKS", "SCHEDULE_CHECKS", "CheckReport", "ContractError",
           "GradientContractError", "check_layer", "check_loss", "check_schedule"]

#: The checks :func:`check_layer` runs, in order (names accepted by its ``skip``).
LAYER_CHECKS = ("registration", "output_shape", "dtype", "determinism", "inputs_unchanged",
                "batch_independence", "gradients", "gradients_training", "accumulation",
                "backward_parameters", "config", "yaml", "save_load")
#: The checks :func:`check_loss` runs, in order.
LOSS_CHECKS = ("registration", "dtype", "inputs_unchanged", "batch_mean", "gradients", "logits",
               "config")
#: The checks :func:`check_schedule` runs, in order.
SCHEDULE_CHECKS = ("registration", "rates", "determinism", "scaling", "warmup", "config")

#: Relative and absolute tolerance of the float64 comparisons that are exact in exact arithmetic
#: but may round differently (a batch against its rows, two gradient passes).
_RTOL, _ATOL = 1e-10, 1e-12


class ContractError(LayernetError, AssertionError):
    """A layer, loss or schedule breaks the layernet contract.

    The message is one line: ``"<object>: <check> check failed: <what differed>"``.

    Attributes:
        subject: the object checked, as its ``repr``.
        check: the failing check's name (one of :data:`LAYER_CHECKS`, ...).
        detail: what differed.
    """

    def __init__(self, subject: str, check: str, detail: str) -> None:
        self.subject = subject
        self.check = check
        self.detail = detail
        super().__init__(f"{subject}: {check} check failed: {detail}")


class GradientContractError(ContractError, GradientCheckError):
    """An analytic gradient disagrees with finite differences (a :class:`ContractError` and a
    :class:`layernet.GradientCheckError`); ``gradcheck`` holds the full :class:`GradcheckReport`."""

    def __init__(self, subject: str, check: str, detail: str, report: GradcheckReport) -> None:
        super().__init__(subject, check, detail)
        self.gradcheck = report


@dataclass
class CheckReport:
    """What a ``check_*`` helper verified.

    Attributes:
        subject: the object checked, as its ``repr``.
        passed: the checks that ran and passed, in order.
        skipped: the checks not run, with the reason (not applicable, not registered,
            or asked for with ``skip=``).
        gradients: the :class:`layernet.GradcheckReport` of each gradient check by mode
            (``"eval"``, ``"training"``).
    """

    subject: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    gradients: dict[str, GradcheckReport] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{self.subject}: {len(self.passed)} checks passed, {len(self.skipped)} skipped"]
        lines += [f"  {name:<22} ok" for name in self.passed]
        lines += [f"  {name:<22} skipped: {reason}" for name, reason in self.skipped.items()]
        return "\n".join(lines)


class _Mismatch(Exception):
    """Raised inside a check with what differed; :func:`_run` turns it into a :class:`ContractError`."""


class _GradientMismatch(_Mismatch):
    def __init__(self, detail: str, report: GradcheckReport) -> None:
        super().__init__(detail)
        self.report = report


# -- layers ---------------------------------------------------------------------------------------

def check_layer(layer: Layer, input_shape: Iterable[int], *, batch_size: int = 4, seed: int = 0,
                training: bool | None = None, tolerance: float = 1e-6, max_entries: int | None = None,
                inputs: npt.ArrayLike | None = None, require_registered: bool = True,
                skip: Iterable[str] = ()) -> CheckReport:
    """Check that ``layer`` keeps the :class:`layernet.Layer` contract; raise on the first failure.

    ``layer`` may be built or not, registered or not; it is only copied. ``X`` is a
    batch of shape ``(batch_size, *input_shape)`` (standard normal unless ``inputs``
    is given) and ``dY`` a random ``(batch_size, *output_shape)``. The checks, in order
    (names as in :data:`LAYER_CHECKS`):

    * ``registration``: the class is registered (YAML and model files name it); an
      unregistered layer fails here unless ``require_registered=False``, which skips
      ``yaml`` and ``save_load`` instead.
    * ``output_shape``: ``build`` returns ``compute_output_shape(input_shape)``, forward
      gives ``(batch, *output_shape)`` and backward ``dX`` the shape of ``X``.
    * ``dtype``: float32 in a float32 model gives float32 ``Y``, ``dX`` and parameter
      gradients; the same for float64 (eval and training mode).
    * ``determinism``: two eval-mode forwards of ``X`` give identical outputs.
    * ``inputs_unchanged``: ``forward`` (eval and training) never modifies ``X``, nor
      ``backward``/``backward_parameters`` ``dY``.
    * ``batch_independence``: in eval mode (float64) the forward of the batch equals
      the forwards of its rows one at a time (relative tolerance 1e-10).
    * ``gradients``: float64 finite differences of the input and every parameter
      gradient in eval mode (:func:`layernet.gradcheck`, relative error ≤ ``tolerance``).
    * ``gradients_training``: the same in training mode, run when the training-mode
      output differs from the eval-mode one (``training=None``), always
      (``training=True``) or never (``training=False``). Random masks are replayed.
    * ``accumulation``: ``backward`` adds into ``param.grad``: after ``zero_grad`` two
      backward passes leave twice the gradient of one (skipped without parameters).
    * ``backward_parameters``: it leaves the same parameter gradients as ``backward``.
    * ``config``: ``from_config(get_config())`` is the same class with an equal config,
      and with the same (perturbed) weights gives the same output.
    * ``yaml``: a model holding the layer survives ``model_to_yaml``/``model_from_yaml``
      with an equal ``get_config()``, and the rebuilt model (same seed) gives the
      same output. The layer's module is listed under ``plugins`` and imported with
      ``allow_plugins=True`` (a no-op for a module already imported).
    * ``save_load``: a built float32 model holding the layer (weights perturbed, one
      training pass run so state such as running statistics moves) saved with
      ``model.save`` and read by :func:`layernet.io.models.load_model` in a temporary
      folder has identical ``get_weights()`` and ``predict`` output.

    Args:
        layer: the layer to check.
        input_shape: one sample's shape (batch excluded), e.g. ``(5,)`` or ``(2, 6, 6)``.
        batch_size: rows of the random input, at least 2.
        seed: seeds the inputs, the models and the finite-difference projection.
        training: whether to check gradients in training mode as well (None: when it differs).
        tolerance: the largest relative gradient error that passes.
        max_entries: check at most this many entries of each array by finite
            differences (big layers); None checks them all.
        inputs: the input batch ``(batch, *input_shape)`` to use instead of random
            values (e.g. away from a kink).
        require_registered: fail an unregistered layer (True) or skip the checks that
            need registration (False).
        skip: names of checks not to run.

    Returns:
        A :class:`CheckReport`.

    Raises:
        ContractError: a check failed (:class:`GradientContractError` for gradients).
        ShapeError: the layer does not accept ``input_shape``.
    """
    shape = checks.positive_sizes("input_shape", tuple(input_shape))
    checks.integer("seed", seed, min=0)
    x = _layer_inputs(inputs, shape, batch_size, seed)
    skipped = _skips(skip, LAYER_CHECKS)
    report = CheckReport(_label(layer))
    registered = _registered(LAYERS, layer)
    _model(layer, shape, seed, np.float32)  # a layer that does not fit input_shape raises ShapeError here

    def run(name: str, check: Callable[[], str | None]) -> None:
        _run(report, skipped, name, check)

    run("registration", lambda: _registration(LAYERS, layer, registered, require_registered,
                                              "skips the yaml and save_load checks"))
    run("output_shape", lambda: _layer_output_shape(layer, shape, x, seed))
    run("dtype", lambda: _layer_dtypes(layer, shape, x, seed))
    run("determinism", lambda: _layer_determinism(layer, shape, x, seed))
    run("inputs_unchanged", lambda: _layer_inputs_unchanged(layer, shape, x, seed))
    run("batch_independence", lambda: _layer_batch_independence(layer, shape, x, seed))
    run("gradients", lambda: _layer_gradients(report, layer, shape, x, False, seed, tolerance,
                                              max_entries))
    run("gradients_training",
        lambda: _layer_training_gradients(report, layer, shape, x, training, seed, tolerance,
                                          max_entries))
    run("accumulation", lambda: _layer_accumulation(layer, shape, x, seed))
    run("backward_parameters", lambda: _layer_backward_parameters(layer, shape, x, seed))
    run("config", lambda: _layer_config(layer, shape, x, seed))
    unregistered = None if registered else "the layer is not registered (require_registered=False)"
    run("yaml", lambda: unregistered or _layer_yaml(layer, shape, x, seed))
    run("save_load", lambda: unregistered or _layer_save_load(layer, shape, x, seed))
    return report


def _layer_inputs(inputs: npt.ArrayLike | None, shape: Shape, batch_size: int, seed: int) -> Array:
    """The float64 input batch ``(batch, *shape)``: ``inputs`` or standard normal values."""
    if inputs is None:
        checks.integer("batch_size", batch_size, min=2)
        x: Array = np.random.default_rng(seed).standard_normal((batch_size, *shape))
        return x
    given: Array = np.array(inputs, dtype=np.float64)
    if given.ndim < 1 or given.shape[1:] != shape or given.shape[0] < 2:
        raise InvalidArgument("inputs", f"an array of shape {given.shape}",
                              f"a batch of at least 2 rows of shape (batch, {', '.join(map(str, shape))})")
    return given


def _model(layer: Layer, shape: Shape, seed: int, dtype: DType) -> Sequential:
    """A built one-layer model around a copy of ``layer``."""
    return Sequential([copy.deepcopy(layer)], input_shape=shape, seed=seed, dtype=dtype)


def _perturbed(model: Sequential, seed: int) -> Sequential:
    """``model`` with ``0.1·N(0, 1)`` added to every parameter (zero biases would hide mistakes)."""
    rng = np.random.default_rng(seed + 1)
    for parameter in model.parameters():
        parameter.value += (0.1 * rng.standard_normal(parameter.shape)).astype(parameter.value.dtype)
    return model


def _stale_zero_grad(model: Sequential) -> None:
    """``model.zero_grad()`` over gradients that hold NaN, as stale values from an earlier step
    would: a layer that overwrites only part of a gradient after :meth:`Parameter.grad_to_fill`
    then leaves NaN behind."""
    for parameter in model.parameters():
        parameter.grad[...] = np.nan
    model.zero_grad()


def _dY(shape: tuple[int, ...], seed: int) -> Array:
    grad: Array = np.random.default_rng(seed + 2).standard_normal(shape)
    return grad


def _layer_output_shape(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    expected = tuple(copy.deepcopy(layer).compute_output_shape(shape))
    model = _model(layer, shape, seed, np.float64)
    if model.output_shape != expected:
        raise _Mismatch(f"build returned output shape {model.output_shape}, compute_output_shape "
                        f"gives {expected}")
    built = model.layers[0]
    y = built.forward(x.copy())
    if y.shape != (len(x), *expected):
        raise _Mismatch(f"forward of {x.shape} gave {y.shape}, expected {(len(x), *expected)}")
    dx = built.backward(_dY(y.shape, seed))
    if dx.shape != x.shape:
        raise _Mismatch(f"backward returned dX of shape {dx.shape}, the input has {x.shape}")
    return None


def _layer_dtypes(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        model = _model(layer, shape, seed, dtype)
        built = model.layers[0]
        for training in (False, True):
            mode = "training" if training else "eval"
            y = built.forward(x.astype(dtype), training=training)
            if y.dtype != dtype:
                raise _Mismatch(f"{dtype} input in a {dtype} model gave {y.dtype} output ({mode} mode)")
            dx = built.backward(_dY(y.shape, seed).astype(dtype))
            if dx.dtype != dtype:
                raise _Mismatch(f"backward returned {dx.dtype} dX in a {dtype} model ({mode} mode)")
            for parameter in built.parameters():
                if parameter.value.dtype != dtype or parameter.grad.dtype != dtype:
                    raise _Mismatch(f"parameter {parameter.name!r} is {parameter.value.dtype} with a "
                                    f"{parameter.grad.dtype} gradient in a {dtype} model")
    return None


def _layer_determinism(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    built = _perturbed(_model(layer, shape, seed, np.float64), seed).layers[0]
    first = built.forward(x.copy()).copy()
    second = built.forward(x.copy())
    if not np.array_equal(first, second):
        raise _Mismatch(f"two eval-mode forwards of the same input differ by up to "
                        f"{_max_difference(first, second):.3g}")
    return None


def _layer_inputs_unchanged(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    built = _model(layer, shape, seed, np.float64).layers[0]
    for training in (False, True):
        given = x.copy()
        y = built.forward(given, training=training)
        if not np.array_equal(given, x):
            raise _Mismatch(f"forward (training={training}) modified its input X in place")
        dY = _dY(y.shape, seed)
        grad = dY.copy()
        built.backward(grad)
        if not np.array_equal(grad, dY):
            raise _Mismatch("backward modified its argument dY in place")
        built.backward_parameters(grad)
        if not np.array_equal(grad, dY):
            raise _Mismatch("backward_parameters modified its argument dY in place")
    return None


def _layer_batch_independence(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    built = _perturbed(_model(layer, shape, seed, np.float64), seed).layers[0]
    whole = built.forward(x.copy()).copy()
    rows = np.concatenate([built.forward(x[i:i + 1].copy()).copy() for i in range(len(x))])
    if rows.shape != whole.shape or not np.allclose(whole, rows, rtol=_RTOL, atol=_ATOL):
        raise _Mismatch(f"eval-mode forward of a batch of {len(x)} differs from the forwards of its "
                        f"rows by up to {_max_difference(whole, rows):.3g}; each output row must "
                        f"depend only on its own input row")
    return None


def _layer_gradients(report: CheckReport, layer: Layer, shape: Shape, x: Array, training: bool,
                     seed: int, tolerance: float, max_entries: int | None) -> str | None:
    mode = "training" if training else "eval"
    result = gradcheck(layer, shape, inputs=x, training=training, seed=seed, tolerance=tolerance,
                       max_entries=max_entries, raise_on_failure=False)
    report.gradients[mode] = result
    if not result.passed:
        raise _GradientMismatch(f"{mode} mode: {_gradient_errors(result)}", result)
    return None


def _layer_training_gradients(report: CheckReport, layer: Layer, shape: Shape, x: Array,
                              training: bool | None, seed: int, tolerance: float,
                              max_entries: int | None) -> str | None:
    if training is False:
        return "training=False"
    if training is None:
        built = _model(layer, shape, seed, np.float64).layers[0]
        evaluated = built.forward(x.copy()).copy()
        if np.array_equal(evaluated, built.forward(x.copy(), training=True)):
            return "the training-mode output equals the eval-mode output (pass training=True to force)"
    return _layer_gradients(report, layer, shape, x, True, seed, tolerance, max_entries)


def _layer_accumulation(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    model = _perturbed(_model(layer, shape, seed, np.float64), seed)
    built = model.layers[0]
    if not built.parameters():
        return "the layer has no parameters"
    dY = _dY((len(x), *built.output_shape), seed)
    built.forward(x.copy())
    _stale_zero_grad(model)
    built.backward(dY.copy())
    once = {p.name: p.grad.copy() for p in built.parameters()}
    built.backward(dY.copy())
    for parameter in built.parameters():
        if not np.allclose(parameter.grad, 2 * once[parameter.name], rtol=_RTOL, atol=_ATOL):
            raise _Mismatch(f"after two backward passes {parameter.name}.grad is not twice that of one "
                            f"(off by up to {_max_difference(parameter.grad, 2 * once[parameter.name]):.3g}); "
                            f"backward must add into param.grad (+=), not assign it (or, when "
                            f"grad_to_fill() returns add=False, write every element)")
    return None


def _layer_backward_parameters(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    model = _perturbed(_model(layer, shape, seed, np.float64), seed)
    built = model.layers[0]
    dY = _dY((len(x), *built.output_shape), seed)
    _stale_zero_grad(model)
    built.forward(x.copy())
    built.backward(dY.copy())
    expected = {p.name: p.grad.copy() for p in built.parameters()}
    _stale_zero_grad(model)
    built.forward(x.copy())
    built.backward_parameters(dY.copy())
    for parameter in built.parameters():
        if not np.allclose(parameter.grad, expected[parameter.name], rtol=_RTOL, atol=_ATOL):
            raise _Mismatch(f"backward_parameters leaves a different {parameter.name}.grad than backward "
                            f"(off by up to {_max_difference(parameter.grad, expected[parameter.name]):.3g})")
    return None


def _layer_config(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    config = layer.get_config()
    clone = type(layer).from_config(copy.deepcopy(config))
    if type(clone) is not type(layer):
        raise _Mismatch(f"from_config built a {type(clone).__name__}, not a {type(layer).__name__}")
    again = clone.get_config()
    if not _equal(again, config):
        raise _Mismatch(f"from_config(get_config()).get_config() differs: {_config_difference(config, again)}")
    original = _perturbed(_model(layer, shape, seed, np.float64), seed)
    rebuilt = Sequential([clone], input_shape=shape, seed=seed + 3, dtype=np.float64)
    rebuilt.set_weights(original.get_weights())
    expected, found = original.forward(x.copy()), rebuilt.forward(x.copy())
    if not np.allclose(expected, found, rtol=_RTOL, atol=_ATOL):
        raise _Mismatch(f"the layer rebuilt by from_config(get_config()) gives other outputs with the same "
                        f"weights (off by up to {_max_difference(expected, found):.3g}); get_config misses "
                        f"or misstates a constructor argument")
    return None


def _layer_yaml(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    model = _model(layer, shape, seed, np.float32)
    rebuilt = model_from_yaml(model_to_yaml(model), allow_plugins=True)
    if type(rebuilt.layers[0]) is not type(layer):
        raise _Mismatch(f"the YAML names {type(rebuilt.layers[0]).__name__}, not {type(layer).__name__}")
    if not _equal(rebuilt.get_config(), model.get_config()):
        raise _Mismatch("the model read back from YAML has another config: "
                        + _config_difference(model.get_config()["layers"][0], rebuilt.get_config()["layers"][0]))
    x32 = x.astype(np.float32)
    expected, found = model.forward(x32), rebuilt.forward(x32)
    if not np.array_equal(expected, found):
        raise _Mismatch(f"the model read back from YAML (same seed) gives other outputs (off by up to "
                        f"{_max_difference(expected, found):.3g}); the layer's initial weights must "
                        f"come only from the rng passed to create_parameters")
    return None


def _layer_save_load(layer: Layer, shape: Shape, x: Array, seed: int) -> str | None:
    model = _perturbed(_model(layer, shape, seed, np.float32), seed)
    x32 = x.astype(np.float32)
    model.forward(x32, training=True)  # let state such as running statistics move
    model.clear_cache()
    with tempfile.TemporaryDirectory(prefix="layernet-check-") as folder:
        path = Path(folder) / "model.npz"
        model.save(path)
        loaded = load_model(path)
    saved, read = model.get_weights(), loaded.get_weights()
    if set(saved) != set(read):
        raise _Mismatch(f"the loaded model has weights {sorted(read)}, the saved one {sorted(saved)}")
    for name, value in saved.items():
        if read[name].dtype != value.dtype or not np.array_equal(read[name], value):
            raise _Mismatch(f"weight {name!r} differs after save and load_model")
    expected, found = model.predict(x32), loaded.predict(x32)
    if expected.dtype != found.dtype or not np.array_equal(expected, found):
        raise _Mismatch(f"predict differs after save and load_model (off by up to "
                        f"{_max_difference(expected, found):.3g})")
    return None


# -- losses ---------------------------------------------------------------------------------------

def check_loss(loss: Loss, input_shape: Iterable[int], *, batch_size: int = 4, seed: int = 0,
               inputs: npt.ArrayLike | None = None, targets: npt.ArrayLike | None = None,
               tolerance: float = 1e-6, require_registered: bool = True,
               skip: Iterable[str] = ()) -> CheckReport:
    """Check that ``loss`` keeps the :class:`layernet.Loss` contract; raise on the first failure.

    Predictions ``y_pred`` have shape ``(batch_size, *input_shape)``: by default
    standard normal logits, passed through the loss's link layer (``loss.link``,
    e.g. Softmax) when the loss takes probabilities. Targets default to one-hot
    rows along the last axis, shape ``(batch_size, *input_shape)``. The checks, in
    order (names as in :data:`LOSS_CHECKS`):

    * ``registration``: the class is registered in ``LOSSES`` (configs name it); an
      unregistered loss fails unless ``require_registered=False``, which checks the
      config round trip without the registry.
    * ``dtype``: float32 predictions give a finite scalar loss and a float32 gradient
      of their shape; the same for float64.
    * ``inputs_unchanged``: ``forward`` and ``backward`` modify neither ``y_pred`` nor
      ``y_true``.
    * ``batch_mean``: the loss of the batch is the mean of the per-row losses and its
      gradient is the per-row gradients divided by the batch size (skip it for a loss
      that is not a batch mean).
    * ``gradients``: float64 finite differences of ``dL/dy_pred`` (:func:`layernet.gradcheck`).
    * ``logits``: for a loss with a link, ``loss.on_logits()`` takes logits and agrees
      with the probability form composed with the link layer: equal values,
      ``dL/dZ`` equal to the link's backward of ``dL/dP``, and ``probabilities(Z)``
      equal to ``link(Z)`` — e.g. ``CrossEntropy(from_logits=True)(z) ==
      CrossEntropy()(softmax(z))``. Skipped for a loss without a link.
    * ``config``: ``type(loss)(**get_config())`` and ``LOSSES.create(LOSSES.config_of(loss))``
      are the same class with an equal config and give the same loss and gradient.

    Args:
        loss: the loss to check.
        input_shape: one prediction's shape (batch excluded), e.g. ``(classes,)``.
        batch_size: rows of the random predictions, at least 2.
        seed: seeds the predictions and targets.
        inputs: the predictions ``(batch, *input_shape)`` instead of random ones.
        targets: the targets for ``inputs`` (integer labels ``(batch,)`` or an array
            shaped like the predictions) instead of one-hot rows.
        tolerance: the largest relative gradient error that passes.
        require_registered: fail an unregistered loss (True) or skip the registry (False).
        skip: names of checks not to run.

    Returns:
        A :class:`CheckReport`.

    Raises:
        ContractError: a check failed (:class:`GradientContractError` for gradients).
    """
    shape = checks.positive_sizes("input_shape", tuple(input_shape))
    checks.integer("seed", seed, min=0)
    skipped = _skips(skip, LOSS_CHECKS)
    report = CheckReport(_label(loss))
    registered = _registered(LOSSES, loss)
    rng = np.random.default_rng(seed)
    logits: Array = (np.array(inputs, dtype=np.float64) if inputs is not None and loss.from_logits
                     else rng.standard_normal((checks.integer("batch_size", batch_size, min=2), *shape)))
    link = _link(loss, shape, seed)
    y_pred: Array = (np.array(inputs, dtype=np.float64) if inputs is not None
                     else link.forward(logits.copy()) if link is not None and not loss.from_logits
                     else logits)
    if y_pred.shape[1:] != shape or len(y_pred) < 2:
        raise InvalidArgument("inputs", f"an array of shape {y_pred.shape}",
                              f"a batch of at least 2 rows of shape (batch, {', '.join(map(str, shape))})")
    y_true: npt.NDArray[Any] = (np.eye(shape[-1])[rng.integers(0, shape[-1], size=y_pred.shape[:-1])]
                                if targets is None else np.asarray(targets))
    if len(y_true) != len(y_pred):
        raise InvalidArgument("targets", f"{len(y_true)} rows", f"{len(y_pred)} rows, one per prediction")

    def run(name: str, check: Callable[[], str | None]) -> None:
        _run(report, skipped, name, check)

    run("registration", lambda: _registration(LOSSES, loss, registered, require_registered,
                                              "checks the config round trip without the registry"))
    run("dtype", lambda: _loss_dtypes(loss, y_pred, y_true))
    run("inputs_unchanged", lambda: _loss_inputs_unchanged(loss, y_pred, y_true))
    run("batch_mean", lambda: _loss_batch_mean(loss, y_pred, y_true))
    run("gradients", lambda: _loss_gradients(report, loss, shape, y_pred, y_true, seed, tolerance))
    run("logits", lambda: _loss_logits(loss, link, logits, y_true))
    run("config", lambda: _loss_config(loss, registered, y_pred, y_true))
    return report


def _link(loss: Loss, shape: Shape, seed: int) -> Layer | None:
    """The loss's link layer built in float64 for ``shape``, or None without a link."""
    if loss.link is None:
        return None
    return Sequential([LAYERS.get(loss.link)()], input_shape=shape, seed=seed, dtype=np.float64).layers[0]


def _loss_dtypes(loss: Loss, y_pred: Array, y_true: npt.NDArray[Any]) -> str | None:
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        value = loss.forward(y_pred.astype(dtype), y_true)
        if np.ndim(value) != 0 or not math.isfinite(float(value)):
            raise _Mismatch(f"forward on {dtype} predictions returned {value!r}, not a finite scalar")
        grad = loss.backward()
        if grad.dtype != dtype or grad.shape != y_pred.shape:
            raise _Mismatch(f"backward on {dtype} predictions {y_pred.shape} returned a {grad.dtype} "
                            f"gradient of shape {grad.shape}")
    return None


def _loss_inputs_unchanged(loss: Loss, y_pred: Array, y_true: npt.NDArray[Any]) -> str | None:
    given, labels = y_pred.copy(), y_true.copy()
    loss.forward(given, labels)
    loss.backward()
    if not np.array_equal(given, y_pred):
        raise _Mismatch("forward or backward modified y_pred in place")
    if not np.array_equal(labels, y_true):
        raise _Mismatch("forward or backward modified y_true in place")
    return None


def _loss_batch_mean(loss: Loss, y_pred: Array, y_true: npt.NDArray[Any]) -> str | None:
    m = len(y_pred)
    whole = loss.forward(y_pred.copy(), y_true)
    grad = loss.backward().copy()
    values, grads = [], []
    for i in range(m):
        values.append(loss.forward(y_pred[i:i + 1].copy(), y_true[i:i + 1]))
        grads.append(loss.backward().copy())
    if not math.isclose(whole, float(np.mean(values)), rel_tol=_RTOL, abs_tol=_ATOL):
        raise _Mismatch(f"the loss of the batch is {whole!r}, the mean of its rows' losses "
                        f"{float(np.mean(values))!r}")
    rows = np.concatenate(grads) / m
    if not np.allclose(grad, rows, rtol=_RTOL, atol=_ATOL):
        raise _Mismatch(f"the gradient of the batch differs from the rows' gradients divided by the "
                        f"batch size {m} by up to {_max_difference(grad, rows):.3g}")
    return None


def _loss_gradients(report: CheckReport, loss: Loss, shape: Shape, y_pred: Array,
                    y_true: npt.NDArray[Any], seed: int, tolerance: float) -> str | None:
    result = gradcheck(loss, shape, inputs=y_pred, targets=y_true, seed=seed, tolerance=tolerance,
                       raise_on_failure=False)
    report.gradients["eval"] = result
    if not result.passed:
        raise _GradientMismatch(_gradient_errors(result), result)
    return None


def _loss_logits(loss: Loss, link: Layer | None, logits: Array, y_true: npt.NDArray[Any]) -> str | None:
    if link is None:
        return "the loss has no link layer (it takes any real outputs)"
    on_logits = loss.on_logits()
    if on_logits is None:
        return f"on_logits() is None although the link is {loss.link}"
    if not on_logits.from_logits:
        raise _Mismatch(f"on_logits() returned {_label(on_logits)}, whose from_logits is False")
    on_probabilities = loss if not loss.from_logits else _probability_form(loss)
    if on_probabilities is None:
        return "the loss takes logits and its config has no from_logits to build the probability form"
    probabilities = link.forward(logits.copy()).copy()
    value = on_logits.forward(logits.copy(), y_true)
    grad = on_logits.backward().copy()
    expected = on_probabilities.forward(probabilities.copy(), y_true)
    chained = link.backward(on_probabilities.backward().copy())
    name = f"{_label(on_logits)} on logits Z and {_label(on_probabilities)} on {loss.link}(Z)"
    if not math.isclose(value, expected, rel_tol=1e-8, abs_tol=1e-12):
        raise _Mismatch(f"{name} disagree: {value!r} against {expected!r}")
    if not np.allclose(grad, chained, rtol=1e-6, atol=1e-9):
        raise _Mismatch(f"dL/dZ of {name} disagree by up to {_max_difference(grad, chained):.3g}")
    mapped = on_logits.probabilities(logits.copy())
    if not np.allclose(mapped, probabilities, rtol=_RTOL, atol=_ATOL):
        raise _Mismatch(f"{_label(on_logits)}.probabilities(Z) differs from {loss.link}(Z) by up to "
                        f"{_max_difference(mapped, probabilities):.3g}")
    return None


def _probability_form(loss: Loss) -> Loss | None:
    """The same loss with ``from_logits=False`` when its config has that argument, else None."""
    config = loss.get_config()
    if config.get("from_logits") is not True:
        return None
    return type(loss)(**{**config, "from_logits": False})


def _loss_config(loss: Loss, registered: bool, y_pred: Array, y_true: npt.NDArray[Any]) -> str | None:
    config = loss.get_config()
    clones = {"type(loss)(**get_config())": type(loss)(**copy.deepcopy(config))}
    if registered:
        clones["LOSSES.create(LOSSES.config_of(loss))"] = LOSSES.create(copy.deepcopy(LOSSES.config_of(loss)))
    expected = loss.forward(y_pred.copy(), y_true)
    grad = loss.backward().copy()
    for how, clone in clones.items():
        if type(clone) is not type(loss):
            raise _Mismatch(f"{how} built a {type(clone).__name__}")
        if not _equal(clone.get_config(), config):
            raise _Mismatch(f"{how} has another config: {_config_difference(config, clone.get_config())}")
        value = clone.forward(y_pred.copy(), y_true)
        if value != expected or not np.array_equal(clone.backward(), grad):
            raise _Mismatch(f"{how} computes another loss ({value!r} against {expected!r}) or gradient; "
                            f"get_config misses or misstates a constructor argument")
    return None


# -- schedules ------------------------------------------------------------------------------------

def check_schedule(schedule: Schedule, *, epochs: int = 20, base_lr: float = 0.1,
                   require_registered: bool = True, skip: Iterable[str] = ()) -> CheckReport:
    """Check that ``schedule`` keeps the :class:`layernet.Schedule` contract; raise on the first failure.

    Rates are ``schedule(epoch, base_lr)`` for ``epoch`` in ``0 .. epochs − 1``. The
    checks, in order (names as in :data:`SCHEDULE_CHECKS`):

    * ``registration``: the class is registered in ``SCHEDULES``; an unregistered
      schedule fails unless ``require_registered=False``, which checks the config
      round trip without the registry.
    * ``rates``: every rate is a finite number ≥ 0.
    * ``determinism``: asking again gives identical rates.
    * ``scaling``: the rates scale linearly with ``base_lr`` (``3·base_lr`` gives three
      times every rate; skip it for a schedule with an absolute floor such as
      ``CosineDecay(min_lr > 0)``, which is affine in ``base_lr``).
    * ``warmup``: with ``warmup_epochs = w`` (the schedule's own, or 3 on a copy when
      it has none) epoch ``e < w`` runs at ``base_lr·(e + 1)/(w + 1)``, rising linearly
      to ``base_lr`` at epoch ``w``, and afterwards the rates are those of the schedule
      without warm-up, ``w`` epochs later. Skipped when the config has no ``warmup_epochs``.
    * ``config``: ``type(schedule)(**get_config())`` and
      ``SCHEDULES.create(SCHEDULES.config_of(schedule))`` are the same class with an
      equal config and the same rate for every epoch.

    Args:
        schedule: the schedule to check.
        epochs: how many epochs to compare, at least 1.
        base_lr: the optimiser's base rate (> 0).
        require_registered: fail an unregistered schedule (True) or skip the registry (False).
        skip: names of checks not to run.

    Returns:
        A :class:`CheckReport`.

    Raises:
        ContractError: a check failed.
    """
    checks.integer("epochs", epochs, min=1)
    lr = checks.number("base_lr", base_lr, min=0.0, min_open=True)
    skipped = _skips(skip, SCHEDULE_CHECKS)
    report = CheckReport(_label(schedule))
    registered = _registered(SCHEDULES, schedule)
    rates = _rates(schedule, epochs, lr)

    def run(name: str, check: Callable[[], str | None]) -> None:
        _run(report, skipped, name, check)

    run("registration", lambda: _registration(SCHEDULES, schedule, registered, require_registered,
                                              "checks the config round trip without the registry"))
    run("rates", lambda: _schedule_rates(rates, lr))
    run("determinism", lambda: _schedule_determinism(schedule, rates, lr))
    run("scaling", lambda: _schedule_scaling(schedule, rates, lr))
    run("warmup", lambda: _schedule_warmup(schedule, epochs, lr))
    run("config", lambda: _schedule_config(schedule, registered, rates, lr))
    return report


def _rates(schedule: Schedule, epochs: int, base_lr: float) -> list[float]:
    return [schedule(epoch, base_lr) for epoch in range(epochs)]


def _schedule_rates(rates: list[float], base_lr: float) -> str | None:
    for epoch, rate in enumerate(rates):
        if np.ndim(rate) != 0 or not math.isfinite(float(rate)) or float(rate) < 0:
            raise _Mismatch(f"epoch {epoch} has rate {rate!r} (base_lr {base_lr}); rates must be finite "
                            f"numbers >= 0")
    return None


def _schedule_determinism(schedule: Schedule, rates: list[float], base_lr: float) -> str | None:
    again = _rates(schedule, len(rates), base_lr)
    if again != rates:
        epoch = next(e for e, (a, b) in enumerate(zip(rates, again)) if a != b)
        raise _Mismatch(f"asking again gives another rate for epoch {epoch}: {again[epoch]!r} against "
                        f"{rates[epoch]!r}")
    return None


def _schedule_scaling(schedule: Schedule, rates: list[float], base_lr: float) -> str | None:
    tripled = _rates(schedule, len(rates), 3 * base_lr)
    for epoch, (rate, scaled) in enumerate(zip(rates, tripled)):
        if not math.isclose(scaled, 3 * rate, rel_tol=1e-12, abs_tol=1e-15 * base_lr):
            raise _Mismatch(f"epoch {epoch}: base_lr {base_lr} gives {rate!r} but 3·base_lr gives "
                            f"{scaled!r}, not three times as much")
    return None


def _schedule_warmup(schedule: Schedule, epochs: int, base_lr: float) -> str | None:
    config = schedule.get_config()
    if "warmup_epochs" not in config:
        return "the schedule has no warmup_epochs argument"
    own = int(config["warmup_epochs"])
    warmup = own if own > 0 else 3
    warmed = schedule if own > 0 else type(schedule)(**{**config, "warmup_epochs": warmup})
    plain = type(schedule)(**{**config, "warmup_epochs": 0})
    for epoch in range(warmup):
        expected = base_lr * (epoch + 1) / (warmup + 1)
        if not math.isclose(warmed(epoch, base_lr), expected, rel_tol=1e-12):
            raise _Mismatch(f"with warmup_epochs={warmup} epoch {epoch} runs at {warmed(epoch, base_lr)!r}, "
                            f"not base_lr·{epoch + 1}/{warmup + 1} = {expected!r}")
    if not math.isclose(warmed(warmup, base_lr), base_lr, rel_tol=1e-12):
        raise _Mismatch(f"with warmup_epochs={warmup} the warm-up does not rise to base_lr {base_lr}: "
                        f"epoch {warmup} runs at {warmed(warmup, base_lr)!r}")
    for epoch in range(epochs):
        after, expected = warmed(epoch + warmup, base_lr), plain(epoch, base_lr)
        if not math.isclose(after, expected, rel_tol=1e-12, abs_tol=1e-15 * base_lr):
            raise _Mismatch(f"with warmup_epochs={warmup} epoch {epoch + warmup} runs at {after!r}, not at "
                            f"the rate of epoch {epoch} without warm-up ({expected!r})")
    return None


def _schedule_config(schedule: Schedule, registered: bool, rates: list[float], base_lr: float) -> str | None:
    config = schedule.get_config()
    clones = {"type(schedule)(**get_config())": type(schedule)(**copy.deepcopy(config))}
    if registered:
        clones["SCHEDULES.create(SCHEDULES.config_of(schedule))"] = SCHEDULES.create(
            copy.deepcopy(SCHEDULES.config_of(schedule)))
    for how, clone in clones.items():
        if type(clone) is not type(schedule):
            raise _Mismatch(f"{how} built a {type(clone).__name__}")
        if not _equal(clone.get_config(), config):
            raise _Mismatch(f"{how} has another config: {_config_difference(config, clone.get_config())}")
        again = _rates(clone, len(rates), base_lr)
        if again != rates:
            epoch = next(e for e, (a, b) in enumerate(zip(rates, again)) if a != b)
            raise _Mismatch(f"{how} gives rate {again[epoch]!r} for epoch {epoch}, the schedule "
                            f"{rates[epoch]!r}; get_config misses or misstates a constructor argument")
    return None


# -- shared -----------------------------------------------------------------------------------------

def _run(report: CheckReport, skipped: set[str], name: str, check: Callable[[], str | None]) -> None:
    """Run one check: record it as passed or skipped, or raise :class:`ContractError` naming it."""
    if name in skipped:
        report.skipped[name] = "skipped by the caller (skip=...)"
        return
    try:
        reason = check()
    except ContractError:
        raise
    except _GradientMismatch as mismatch:
        raise GradientContractError(report.subject, name, str(mismatch), mismatch.report) from None
    except _Mismatch as mismatch:
        raise ContractError(report.subject, name, str(mismatch)) from None
    except Exception as error:  # the checked object's own failure, reported at the check
        raise ContractError(report.subject, name, f"raised {type(error).__name__}: {_one_line(error)}") from error
    if reason is None:
        report.passed.append(name)
    else:
        report.skipped[name] = reason


def _registration(registry: Registry[Any], obj: object, registered: bool, required: bool,
                  opt_out: str) -> str | None:
    if registered:
        return None
    name = type(obj).__name__
    if required:
        raise _Mismatch(f"{name} is not registered, so configs and model files cannot name it; register "
                        f"it with @{registry.registration}, or pass require_registered=False, which "
                        f"{opt_out}")
    return f"{name} is not registered (require_registered=False)"


def _registered(registry: Registry[Any], obj: object) -> bool:
    try:
        registry.name_of(type(obj))
    except UnknownNameError:
        return False
    return True


def _skips(skip: Iterable[str], known: tuple[str, ...]) -> set[str]:
    names = {skip} if isinstance(skip, str) else set(skip)
    for name in sorted(names):
        checks.one_of("skip", name, known)
    return names


def _label(obj: object) -> str:
    """``repr(obj)`` on one line (the class name when repr itself fails)."""
    try:
        text = repr(obj)
    except Exception:  # a broken get_config breaks repr; the check will say so
        text = f"{type(obj).__name__}(...)"
    text = _one_line(text)
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _equal(a: Any, b: Any) -> bool:
    """Config equality that tolerates numpy values (compared by repr when ``==`` is ambiguous)."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return repr(a) == repr(b)


def _config_difference(expected: dict[str, Any], found: dict[str, Any]) -> str:
    keys = [key for key in {**expected, **found} if not _equal(expected.get(key, _MISSING), found.get(key, _MISSING))]
    shown = "; ".join(f"{key}: {expected.get(key, _MISSING)!r} -> {found.get(key, _MISSING)!r}" for key in keys)
    return _one_line(shown) or "(the same keys and values, in another form)"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _gradient_errors(report: GradcheckReport) -> str:
    failing = [f"{name.removeprefix('layers.0.')} {error:.2e}" for name, error in report.errors.items()
               if error > report.tolerance]
    return (f"relative error above {report.tolerance:.0e} for " + ", ".join(failing)
            + " (analytic against finite differences, float64)")


def _max_difference(a: Array, b: Array) -> float:
    if a.shape != b.shape:
        return math.inf
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))
