"""Trainer: the fit loop (minibatch or full batch), evaluation and prediction."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.dataset import Dataset
from ..errors import DataError, InvalidArgument, TrainingDivergedError
from ..kernels import kernel_choice
from ..losses import Loss
from ..model import Preprocessing, Sequential
from ..objective import pair
from ..optimizers import Optimizer
from ..schedules import Schedule
from ..typing import Array
from .callbacks import BatchLogs, Callback, EarlyStopping
from .history import History, Row
from .metrics import Evaluation, as_dataset, as_inputs, as_validation, check_fits, evaluate
from .settings import TrainSettings

Labels = npt.NDArray[np.integer[Any]]
Batch = tuple[Array, Labels]

#: Offsets into the trainer seed: independent streams for shuffling and the validation split.
SHUFFLE_STREAM, SPLIT_STREAM = 0, 1

#: The most rows a training step runs through the model at once when every layer and the loss
#: are row-wise (see :meth:`Trainer._gradients`). Full-batch gradient descent on 60,000 MNIST
#: rows (784-10-10) steps in 74.9 ms instead of 90.6 ms at one thread, and holds the activations
#: of 512 rows instead of 60,000.
BLOCK_ROWS = 512


class Trainer:
    """Trains a built model on a :class:`~layernet.data.dataset.Dataset`.

    The model and loss are paired once, here (:func:`layernet.objective.pair`):
    a model ending in ``Softmax`` trained with ``CrossEntropy`` computes the loss
    from logits. Each epoch: set ``optimizer.lr`` from the schedule, draw one
    permutation of the training rows (when shuffling), then per batch convert
    the rows to the model dtype, ``optimizer.zero_grad()``, run forward (training
    mode), the loss and backward (no input gradient), and ``optimizer.step()``;
    finally evaluate the validation data in inference mode and append a row to
    :attr:`history`. A batch of more than :data:`BLOCK_ROWS` rows of a row-wise
    model and loss runs forward and backward a block of rows at a time
    (:meth:`_gradients`).

    Args:
        model: a built :class:`Sequential`.
        loss: the loss, e.g. :class:`layernet.CrossEntropy`.
        optimizer: an optimiser created on ``model.parameters()``; its ``lr``
            at construction is the base rate the schedule scales.
        schedule: learning rate per epoch, ``schedule(epoch, base_lr)``; None
            keeps the base rate. A schedule whose length is open (``CosineDecay()``
            without ``epochs``) is fitted to ``settings.epochs`` here.
        settings: epochs, batch size (or ``"full"``), shuffling, validation
            split, early stopping and seed (default: the model's seed).
        callbacks: hooks called during :meth:`fit`. An ``EarlyStopping`` built
            from ``settings.early_stopping`` is appended when that is set.

    Raises:
        InvalidArgument: the model is not built, or the optimiser updates other parameters.
        PairingError: the loss does not fit the model's last layer.

    Attributes:
        objective: how the model and loss are paired (``objective.describe()``).
        schedule_note: a warning when the schedule ends before ``settings.epochs`` (the
            progress callback prints it), else None.
        epoch: epochs completed so far (``fit`` continues from here).
        history: one row per completed epoch.
        stop_training: set by a callback to end ``fit`` after the current epoch.
        mid_epoch: True while an epoch's batches run (the weights then belong to no
            completed epoch; an interrupted run checkpoints only when it is False).
        seed: seeds shuffling and the validation split.
        shuffle_rng: the generator drawing each epoch's permutation.
        validation_index: rows of the training data held out by
            ``validation_split`` (None when there is no split).

    Example:
        >>> model = ln.Sequential([ln.Dense(10), ln.Softmax()], input_shape=(784,))
        >>> trainer = Trainer(model, ln.CrossEntropy(), ln.SGD(model.parameters(), lr=0.5),
        ...                   settings=TrainSettings(epochs=5, batch_size="full"))
        >>> history = trainer.fit(train)
    """

    def __init__(self, model: Sequential, loss: Loss, optimizer: Optimizer, *,
                 schedule: Schedule | None = None, settings: TrainSettings = TrainSettings(),
                 callbacks: Sequence[Callback] = ()) -> None:
        if not model.built:
            raise InvalidArgument("model", "an unbuilt model", "built", "give it input_shape=... "
                                  "before creating the optimizer and the Trainer")
        if [id(p) for p in optimizer.params] != [id(p) for p in model.parameters()]:
            raise InvalidArgument("optimizer", type(optimizer).__name__, "an optimizer of this "
                                  "model's parameters", "create it with model.parameters() after "
                                  "the model is built")
        kernel_choice()         # a mistyped LAYERNET_KERNELS fails here, before any step
        self.objective = pair(model, loss)
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.schedule, self.settings = schedule, settings
        if schedule is not None:
            schedule.fit_to(settings.epochs)
        self.schedule_note = None if schedule is None else schedule.shorter_than(settings.epochs)
        self.callbacks = list(callbacks)
        if settings.early_stopping is not None:
            self.callbacks.append(EarlyStopping.from_settings(settings.early_stopping))
        self.base_lr = optimizer.lr
        self.seed = model.seed if settings.seed is None else settings.seed
        self.shuffle_rng = np.random.default_rng([self.seed, SHUFFLE_STREAM])
        self.epoch = 0
        self.history = History()
        self.stop_training = False
        self.mid_epoch = False
        self.validation_index: npt.NDArray[np.intp] | None = None
        self._logs = BatchLogs()

    # -- training -------------------------------------------------------------------
    def fit(self, x: Dataset | npt.ArrayLike, y: npt.ArrayLike | Dataset | None = None, *,
            validation_data: Dataset | tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
            epochs: int | None = None) -> History:
        """Train until ``epochs`` epochs are complete in total (default ``settings.epochs``).

        Continues from :attr:`epoch`, so a resumed trainer finishes the run.
        Without validation data, ``settings.validation_split`` holds out a
        seeded random fraction of the training rows (the same rows on every call).
        The model's :attr:`~layernet.Sequential.preprocessing` is set from the
        training data (its ``shift``/``scale``), so ``model.predict`` on raw inputs
        normalises them as training did.

        Args:
            x: a labelled :class:`Dataset`, or samples ``(n, *model.input_shape)``
                (uint8 pixels are scaled by 1/255, floats used as they are).
            y: integer labels ``(n,)`` when ``x`` is an array. (For compatibility a
                Dataset here is taken as the validation data: ``fit(train, validation)``.)
            validation_data: a Dataset or ``(x_val, y_val)`` evaluated after every epoch.
            epochs: total epochs to reach; None means ``settings.epochs``.

        Returns:
            :attr:`history`, one row per epoch since the start of the run.

        Raises:
            DataError: data that is neither a Dataset nor arrays, missing labels, rows
                that do not fit the model, labels out of range, a split that leaves no rows,
                or inputs holding NaN or infinite values (found when the loss becomes NaN).
            TrainingDivergedError: the loss became nan or infinite on finite inputs.
        """
        if isinstance(y, Dataset):
            if validation_data is not None:
                raise DataError("validation data given twice: as the second argument and as validation_data")
            y, validation_data = None, y
        train, validation = self.split(as_dataset(x, y, "x"), as_validation(validation_data))
        for data in (train, validation):
            if data is not None:
                check_fits(self.model, data)
        self.model.preprocessing = fitted_preprocessing(train)
        full = (train.batch(slice(None), self.model.dtype), train.labels()) \
            if self.settings.batch_size == "full" else None
        target = self.settings.epochs if epochs is None else epochs
        self.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin(self)
        try:
            # A diverging run is reported once, as TrainingDivergedError, not as overflow warnings.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                while self.epoch < target and not self.stop_training:
                    self._run_epoch(train, validation, full)
        finally:
            self.model.clear_cache()
            for callback in self.callbacks:
                callback.on_train_end(self)
        return self.history

    def split(self, train: Dataset, validation: Dataset | None) -> tuple[Dataset, Dataset | None]:
        """``(train, validation)``: the ``validation_split`` fraction of ``train`` held out
        (a seeded random choice of ``round(n · split)`` rows, kept in original order)
        unless ``validation`` is given or the split is 0."""
        fraction = self.settings.validation_split
        if validation is not None or fraction == 0:
            return train, validation
        rows = len(train)
        held = round(rows * fraction)
        if not 0 < held < rows:
            raise DataError(f"validation_split {fraction} of {rows} rows leaves "
                            f"{held} validation and {rows - held} training rows; "
                            f"use more data or another split")
        order = np.random.default_rng([self.seed, SPLIT_STREAM]).permutation(rows)
        self.validation_index = np.sort(order[:held])
        return train.subset(np.sort(order[held:])), train.subset(self.validation_index)

    def _run_epoch(self, train: Dataset, validation: Dataset | None, full: Batch | None) -> None:
        epoch = self.epoch + 1
        lr = self.base_lr if self.schedule is None else self.schedule(self.epoch, self.base_lr)
        self.optimizer.lr = lr
        for callback in self.callbacks:
            callback.on_epoch_begin(self, epoch)
        start = time.perf_counter()
        self.mid_epoch = True
        logs = self._train_epoch(train, epoch, full)
        self.mid_epoch = False
        row: Row = {"epoch": epoch, "loss": logs.loss, "accuracy": logs.accuracy}
        if validation is not None:
            result = self.evaluate(validation)
            row.update(val_loss=result.loss, val_accuracy=result.accuracy)
        row.update(lr=lr, seconds=time.perf_counter() - start)
        self.epoch = epoch
        self.history.append(row)
        for callback in self.callbacks:
            callback.on_epoch_end(self, epoch, self.history.rows[-1])

    def _train_epoch(self, train: Dataset, epoch: int, full: Batch | None) -> BatchLogs:
        logs = self._logs
        size = len(train) if full is not None else int(self.settings.batch_size)
        logs.reset(epoch, math.ceil(len(train) / size))
        for x, y in ((full,) if full is not None else self._batches(train, size)):
            self._step(x, y, logs)
            for callback in self.callbacks:
                callback.on_batch_end(self, logs.batch, logs)
        return logs

    def _batches(self, train: Dataset, size: int) -> Iterator[Batch]:
        """Minibatches of ``size`` rows in one fresh permutation (or in order without shuffling)."""
        labels = train.labels()
        order = self.shuffle_rng.permutation(len(train)) if self.settings.shuffle else None
        for start in range(0, len(train), size):
            rows = slice(start, start + size) if order is None else order[start:start + size]
            yield train.batch(rows, self.model.dtype), labels[rows]

    def _step(self, x: Array, y: Labels, logs: BatchLogs) -> None:
        """One optimisation step on the batch ``x`` ``(batch, *input_shape)``, ``y`` ``(batch,)``."""
        self.optimizer.zero_grad()
        loss, correct = self._gradients(x, y)
        if not math.isfinite(loss):
            where = f"epoch {logs.epoch} batch {logs.batch + 1}"
            if not np.isfinite(x).all():     # checked only here, off the hot path
                raise DataError(f"the training inputs hold NaN or infinite values ({where}: "
                                f"{x.size - int(np.count_nonzero(np.isfinite(x)))} of them); remove "
                                f"or impute them before training")
            raise TrainingDivergedError(
                f"loss became {loss} at epoch {logs.epoch} batch {logs.batch + 1}; lower the "
                f"learning rate (now {self.optimizer.lr:g})")
        self.optimizer.step()
        logs.add(loss, correct, len(y))

    def _gradients(self, x: Array, y: Labels) -> tuple[float, int]:
        """Add the gradient of the batch's mean loss into the parameters; return that loss
        and the number of rows predicted right.

        A batch of more than :data:`BLOCK_ROWS` rows of a :attr:`~Objective.rowwise` objective
        runs as blocks of that many rows (the last one shorter): each block's gradient is
        weighted by its share of the rows, so the sum is the batch's gradient (up to rounding).
        The rows a layer reads are then still in the CPU cache when its backward pass reads
        them again, and layers that keep buffers shaped like their last batch (``ReLU``) see
        at most two shapes per step.
        """
        rows = len(y)
        size = BLOCK_ROWS if self.objective.rowwise else max(rows, 1)
        total, correct = 0.0, 0
        for start in range(0, rows, size):
            stop = min(start + size, rows)
            share = (stop - start) / rows
            loss, outputs = self.objective.forward(x[start:stop], y[start:stop], training=True)
            self.objective.backward(share)
            total += loss * share
            predicted = self.objective.predicted_classes(outputs)
            correct += int(np.count_nonzero(predicted == y[start:stop]))
        return total, correct

    # -- evaluation -----------------------------------------------------------------
    def evaluate(self, data: Dataset, batch_size: int = 1024) -> Evaluation:
        """Loss, accuracy and confusion matrix of the model on labelled ``data`` (inference
        mode); see :func:`layernet.training.metrics.evaluate`."""
        return evaluate(self.model, self.objective, data, batch_size)

    def predict(self, data: Dataset | npt.ArrayLike, batch_size: int = 1024) -> Array:
        """Class probabilities ``(n, *output_shape)`` for ``data`` (inference mode).

        The model outputs, passed through softmax (sigmoid) when the loss takes
        logits (``from_logits=True``). Arrays are raw inputs, normalised by the model's
        :attr:`~layernet.Sequential.preprocessing` (see :meth:`Sequential.predict`).
        """
        if not isinstance(data, Dataset):
            return self.loss.probabilities(self.model.predict(as_inputs(data), batch_size))
        outputs = [self.model.forward(x) for _, x in data.batches(batch_size, self.model.dtype)]
        self.model.clear_cache()
        if not outputs:
            return np.empty((0, *(self.model.output_shape or ())), dtype=self.model.dtype)
        return self.loss.probabilities(np.concatenate(outputs))


def fitted_preprocessing(train: Dataset) -> Preprocessing:
    """:meth:`Preprocessing.fitted` of ``train``, read from the extremes of the samples rather
    than from every normalised value.

    The normalisation ``(x − shift) · scale`` is applied element by element with one shift and
    scale per sample position, and rounding keeps it monotonic, so the extremes of the
    normalised data are the normalised extremes of each position: the same range, bit for bit
    (NaNs are skipped by both, as ``np.nanmin`` skips them). With one shift and scale for every
    position, the overall extremes are enough (:func:`overall_extremes`).
    """
    x = train.x
    if x.size == 0:
        return Preprocessing.fitted(x, train.shift, train.scale)
    if x.dtype.kind in "iuf" and np.ndim(train.shift) == 0 and np.ndim(train.scale) == 0:
        return Preprocessing.fitted(overall_extremes(x), train.shift, train.scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # an all-NaN position: NaN, skipped below
        extremes = np.stack([np.nanmin(x, axis=0), np.nanmax(x, axis=0)]) if x.dtype.kind == "f" \
            else np.stack([x.min(axis=0), x.max(axis=0)])
    return Preprocessing.fitted(extremes, train.shift, train.scale)


#: Rows per chunk :func:`overall_extremes` scans in integer samples.
EXTREMES_CHUNK_ROWS = 4096


def overall_extremes(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``[[min], [max]]`` of the integer or float samples ``x`` ``(n, ...)`` in their dtype,
    NaNs skipped.

    Integer samples are scanned :data:`EXTREMES_CHUNK_ROWS` rows at a time, stopping once the
    extremes reach the dtype's own bounds, which no later value can pass: MNIST's first chunk
    holds 0 and 255, so a ``fit`` call reads 3 MB instead of 47 MB (0.4 ms instead of 6.8 ms;
    loops that call ``fit`` once per epoch pay it every epoch). Float samples take one
    ``min`` and one ``max`` over all values (12 ms for MNIST as float32, against 26 ms per
    position), and ``nanmin``/``nanmax`` only when those meet a NaN.
    """
    if x.dtype.kind == "f":
        low, high = x.min(), x.max()
        if np.isnan(low) or np.isnan(high):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)     # all NaN: NaN, skipped by fitted
                low, high = np.nanmin(x), np.nanmax(x)
        return np.array([[low], [high]], dtype=x.dtype)
    bounds = np.iinfo(x.dtype)
    low, high = bounds.max, bounds.min
    for start in range(0, len(x), EXTREMES_CHUNK_ROWS):
        chunk = x[start:start + EXTREMES_CHUNK_ROWS]
        low, high = min(low, int(chunk.min())), max(high, int(chunk.max()))
        if low == bounds.min and high == bounds.max:
            break
    return np.array([[low], [high]], dtype=x.dtype)
