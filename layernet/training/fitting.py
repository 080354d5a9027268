"""``fit`` and ``evaluate``: train and measure a model on arrays in one call, Keras style."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, Literal

import numpy.typing as npt

from .. import checks
from ..data.dataset import Dataset
from ..errors import InvalidArgument
from ..losses import Loss, get_loss
from ..model import Sequential
from ..optimizers import Optimizer, get_optimizer
from ..schedules import Schedule, get_schedule
from .callbacks import Callback
from .history import History
from .metrics import Evaluation, as_dataset, as_validation, model_dataset
from .metrics import evaluate as evaluate_dataset
from .progress import Progress
from .settings import TrainSettings
from .threads import blas_threads, default_threads
from .trainer import Trainer

Spec = str | dict[str, Any]


def fit(model: Sequential | Trainer, x: Dataset | npt.ArrayLike, y: npt.ArrayLike | None = None, *,
        loss: Loss | Spec | None = None, optimizer: Optimizer | Spec | None = None,
        lr: float | None = None, epochs: int = 10, batch_size: int | Literal["full"] = 32,
        validation_split: float = 0.0,
        validation_data: Dataset | tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        shuffle: bool = True, seed: int | None = None, schedule: Schedule | Spec | None = None,
        callbacks: Sequence[Callback] = (), verbose: int = 1, initial_epoch: int = 0,
        threads: int | None = None) -> History:
    """Train ``model`` on ``x``, ``y`` and return the :class:`History` (a :class:`Trainer` underneath).

    Args:
        model: the model (built from ``x``'s sample shape when it is not built yet), or
            a :class:`Trainer` to continue, e.g. ``ln.load_checkpoint("last.npz")``: its
            optimiser state, schedule, settings and epoch count carry on, and ``epochs``
            is the total to reach (``loss``, ``optimizer``, ``lr``, ``schedule`` and the
            other settings must then be left out).
        x: a :class:`Dataset`, or samples ``(n, *sample_shape)``: float arrays
            are used as they are, ``uint8`` arrays are scaled by 1/255 per batch.
            The model records this (``model.preprocessing``), so ``model.predict``
            on raw uint8 images scales them the same way.
        y: integer labels ``(n,)`` (omit when ``x`` is a Dataset).
        loss: a :class:`Loss`, a registered name or ``{"type": name, **args}``
            (default ``"CrossEntropy"``).
        optimizer: an :class:`Optimizer` on ``model.parameters()``, a name or a mapping
            (default ``"Adam"``).
        lr: learning rate for an optimizer given by name (default: its own default).
        epochs: the epoch to train up to, counting ``initial_epoch`` (Keras's meaning).
        batch_size: rows per step, or ``"full"`` for one full-batch step per epoch.
        validation_split: fraction of ``x`` held out (seeded), when no ``validation_data``.
        validation_data: a Dataset or ``(x_val, y_val)``, evaluated after each epoch.
        shuffle: reshuffle the rows every epoch.
        seed: seeds shuffling and the split (default: the model's seed).
        schedule: a :class:`Schedule`, a name or a mapping; None keeps ``lr``. A
            ``CosineDecay`` without ``epochs`` spans this run's ``epochs``.
        callbacks: :class:`Callback` objects.
        verbose: 0 prints nothing; 1 (default) a per-batch progress bar with loss,
            accuracy and ETA on a terminal and one line per epoch otherwise; 2 one
            line per epoch. Progress goes to standard error.
        initial_epoch: epochs already done, for a loaded model trained before: the
            schedule and the history's epoch numbers continue from there (the
            optimiser starts afresh; continue a checkpoint to keep its state).
        threads: BLAS threads to train with (threadpoolctl); None applies the measured default
            policy (:func:`layernet.training.threads.default_threads`), as ``layernet train`` does.

    Raises:
        UnknownNameError: an unknown loss, optimizer or schedule.
        InvalidArgument: a setting or hyperparameter out of range.
        PairingError: the loss does not fit the model's last layer.
        DataError: data that does not fit the model, or that is not a Dataset or arrays.
        TrainingDivergedError: the loss became nan or infinite.

    Example:
        >>> history = fit(model, x_train, y_train, optimizer="SGD", lr=0.1, epochs=5)
        >>> history["val_accuracy"]  # with validation_split=0.1
    """
    checks.integer("verbose", verbose, min=0, max=2)
    checks.integer("initial_epoch", initial_epoch, min=0)
    train = as_dataset(x, y, "x")
    validation = as_validation(validation_data)
    if isinstance(model, Trainer):
        trainer = _continued(model, loss=loss, optimizer=optimizer, lr=lr, schedule=schedule,
                             initial_epoch=initial_epoch)
    else:
        if not model.built:
            model.build(train.sample_shape)
        settings = TrainSettings(epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                                 validation_split=validation_split, seed=seed)
        trainer = Trainer(model, get_loss(loss or "CrossEntropy"), _optimizer(optimizer, lr, model),
                          schedule=None if schedule is None else get_schedule(schedule),
                          settings=settings)
        trainer.epoch = initial_epoch
    added = list(callbacks) + _progress(verbose, epochs)
    trainer.callbacks = [*trainer.callbacks, *added]
    try:
        chosen = default_threads(trainer.model.num_parameters, trainer.settings.batch_size) \
            if threads is None else threads
        with blas_threads(chosen):
            return trainer.fit(train, validation_data=validation, epochs=epochs)
    finally:
        trainer.callbacks = [c for c in trainer.callbacks if not any(c is a for a in added)]


def evaluate(model: Sequential, x: Dataset | npt.ArrayLike, y: npt.ArrayLike | None = None, *,
             loss: Loss | Spec = "CrossEntropy", batch_size: int = 1024) -> Evaluation:
    """Loss, accuracy, per-class precision/recall/F1, top-k accuracy, confusion matrix and
    the misclassified rows of ``model`` on labelled data.

    Arrays are normalised as the model's training data was (``model.preprocessing``:
    raw uint8 images are scaled as in training), so ``evaluate`` and ``model.predict``
    see the same numbers.

    Args:
        model: a built model.
        x: a labelled :class:`Dataset`, or samples ``(n, *input_shape)``.
        y: integer labels ``(n,)`` (omit when ``x`` is a Dataset).
        loss: the loss to report (a :class:`Loss`, name or mapping).
        batch_size: rows per forward pass (memory only).

    Returns:
        An :class:`Evaluation`: ``loss``, ``accuracy``, ``top_k``, ``precision``,
        ``recall``, ``f1``, ``confusion``, ``predicted`` and ``misclassified`` (row indices).

    Raises:
        DataError: no labels, rows that do not fit the model, labels out of range.
        PairingError: the loss does not fit the model's last layer.
    """
    data = model_dataset(model, x, y, "x")
    return evaluate_dataset(model, get_loss(loss), data, batch_size)


def _progress(verbose: int, epochs: int) -> list[Callback]:
    if verbose == 0:
        return []
    return [Progress(epochs, stream=sys.stderr, interactive=None if verbose == 1 else False)]


def _continued(trainer: Trainer, *, loss: Any, optimizer: Any, lr: Any, schedule: Any,
               initial_epoch: int) -> Trainer:
    given = [name for name, value in (("loss", loss), ("optimizer", optimizer), ("lr", lr),
                                      ("schedule", schedule)) if value is not None]
    if initial_epoch:
        given.append("initial_epoch")
    if given:
        raise InvalidArgument(given[0], "given with a Trainer", "left out when continuing a Trainer",
                              "the trainer keeps its own loss, optimiser, schedule and epoch count")
    return trainer


def _optimizer(spec: Optimizer | Spec | None, lr: float | None, model: Sequential) -> Optimizer:
    if isinstance(spec, Optimizer):
        if lr is not None:
            raise InvalidArgument("lr", lr, "omitted when the optimizer is an object", "pass it to the "
                                  "optimizer you created, or name it: optimizer='Adam', lr=...")
        return spec
    spec = "Adam" if spec is None else spec
    args: dict[str, Any] = {"type": spec} if isinstance(spec, str) else dict(spec)
    if lr is not None:
        args["lr"] = lr
    return get_optimizer(args, model.parameters())
