"""``fit``: train a model on arrays in one call, Keras style."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy.typing as npt

from ..data.dataset import Dataset
from ..errors import DataError, InvalidArgument
from ..losses import Loss, get_loss
from ..model import Sequential
from ..optimizers import Optimizer, get_optimizer
from ..schedules import Schedule, get_schedule
from .callbacks import Callback
from .history import History
from .settings import TrainSettings
from .trainer import Trainer

Spec = str | dict[str, Any]


def fit(model: Sequential, x: Dataset | npt.ArrayLike, y: npt.ArrayLike | None = None, *,
        loss: Loss | Spec = "CrossEntropy", optimizer: Optimizer | Spec = "Adam",
        lr: float | None = None, epochs: int = 10, batch_size: int | Literal["full"] = 32,
        validation_split: float = 0.0,
        validation_data: Dataset | tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        shuffle: bool = True, seed: int | None = None, schedule: Schedule | Spec | None = None,
        callbacks: Sequence[Callback] = ()) -> History:
    """Train ``model`` on ``x``, ``y`` and return the :class:`History` (a :class:`Trainer` underneath).

    Args:
        model: the model; built from ``x``'s sample shape when it is not built yet.
        x: a :class:`Dataset`, or samples ``(n, *sample_shape)``: float arrays
            are used as they are, ``uint8`` arrays are scaled by 1/255 per batch.
        y: integer labels ``(n,)`` (omit when ``x`` is a Dataset).
        loss: a :class:`Loss`, a registered name or ``{"type": name, **args}``.
        optimizer: an :class:`Optimizer` on ``model.parameters()``, a name or a mapping.
        lr: learning rate for an optimizer given by name (default: its own default).
        epochs: passes over the data.
        batch_size: rows per step, or ``"full"`` for one full-batch step per epoch.
        validation_split: fraction of ``x`` held out (seeded), when no ``validation_data``.
        validation_data: a Dataset or ``(x_val, y_val)``, evaluated after each epoch.
        shuffle: reshuffle the rows every epoch.
        seed: seeds shuffling and the split (default: the model's seed).
        schedule: a :class:`Schedule`, a name or a mapping; None keeps ``lr``.
        callbacks: :class:`Callback` objects.

    Raises:
        UnknownNameError: an unknown loss, optimizer or schedule.
        InvalidArgument: a setting or hyperparameter out of range.
        PairingError: the loss does not fit the model's last layer.
        DataError: data that does not fit the model.
        TrainingDivergedError: the loss became nan or infinite.

    Example:
        >>> history = fit(model, x_train, y_train, optimizer="SGD", lr=0.1, epochs=5)
        >>> history["val_accuracy"]  # with validation_split=0.1
    """
    train = _training_data(x, y)
    validation = _validation(validation_data)
    if not model.built:
        model.build(train.sample_shape)
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                             validation_split=validation_split, seed=seed)
    trainer = Trainer(model, get_loss(loss), _optimizer(optimizer, lr, model),
                      schedule=None if schedule is None else get_schedule(schedule),
                      settings=settings, callbacks=callbacks)
    return trainer.fit(train, validation)


def _training_data(x: Dataset | npt.ArrayLike, y: npt.ArrayLike | None) -> Dataset:
    if not isinstance(x, Dataset):
        return Dataset.from_arrays(x, y, "x")
    if y is not None:
        raise DataError("x: pass labels inside the Dataset, not as y")
    return x


def _validation(data: Dataset | tuple[npt.ArrayLike, npt.ArrayLike] | None) -> Dataset | None:
    if data is None or isinstance(data, Dataset):
        return data
    x_val, y_val = data
    return Dataset.from_arrays(x_val, y_val, "validation_data")


def _optimizer(spec: Optimizer | Spec, lr: float | None, model: Sequential) -> Optimizer:
    if isinstance(spec, Optimizer):
        if lr is not None:
            raise InvalidArgument("lr", lr, "omitted when the optimizer is an object", "pass it to the "
                                  "optimizer you created, or name it: optimizer='Adam', lr=...")
        return spec
    args: dict[str, Any] = {"type": spec} if isinstance(spec, str) else dict(spec)
    if lr is not None:
        args["lr"] = lr
    return get_optimizer(args, model.parameters())
