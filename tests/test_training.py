"""The Trainer and fit(): batching, validation, schedules, callbacks, determinism and errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from test_training_support import (
    CLASSES,
    FEATURES,
    Scripted,
    blobs,
    make_trainer,
    small_model,
    without_seconds,
)

import layernet as ln
from layernet.data.dataset import Dataset
from layernet.schedules import StepDecay
from layernet.training import (
    BatchLogs,
    Callback,
    EarlyStopping,
    EarlyStoppingSettings,
    Trainer,
    fit,
)
from layernet.errors import TrainingDivergedError
from layernet.training.metrics import evaluate
from layernet.training import trainer as trainer_module


class Recorder(Callback):
    """Records every hook call, the batch logs and the weights after each epoch."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.batches: list[tuple[int, int, int, int, float]] = []
        self.weights: dict[int, dict[str, np.ndarray]] = {}

    def on_train_begin(self, trainer: Trainer) -> None:
        self.calls.append("train_begin")

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, trainer: Trainer, batch: int, logs: BatchLogs) -> None:
        self.batches.append((logs.epoch, batch, logs.batches, logs.samples, logs.loss))

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, float]) -> None:
        self.calls.append(f"epoch_end {epoch}")
        self.weights[epoch] = trainer.model.get_weights()

    def on_train_end(self, trainer: Trainer) -> None:
        self.calls.append("train_end")


def test_fit_on_arrays_learns_an_easy_problem() -> None:
    train, test = blobs(600, seed=0), blobs(300, seed=1)
    model = ln.Sequential([ln.Dense(16), ln.ReLU(), ln.Dense(CLASSES), ln.Softmax()], seed=0)
    history = fit(model, train.x, train.y, optimizer="Adam", lr=0.02, epochs=15, batch_size=32,
                  validation_data=(test.x, test.y))
    assert model.input_shape == (FEATURES,)  # built from the data
    assert history["val_accuracy"][-1] >= 0.99
    assert history["loss"][-1] < history["loss"][0]
    result = make_trainer(model).evaluate(test)
    assert result.accuracy >= 0.99 and result.samples == len(test)
    assert result.confusion.shape == (CLASSES, CLASSES) and result.confusion.dtype == np.int64
    assert np.array_equal(result.confusion.sum(axis=1), np.bincount(test.y, minlength=CLASSES))


def test_uint8_arrays_are_scaled_per_batch_like_a_scaled_dataset() -> None:
    data = blobs()
    a, b = small_model(), small_model()
    fit(a, data.x, data.y, epochs=2, seed=1)
    make_trainer(b, lr=0.001, epochs=2, seed=1).fit(Dataset(data.x, data.y, scale=1 / 255))
    assert all(np.array_equal(a.get_weights()[k], w) for k, w in b.get_weights().items())


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(32, math.ceil(600 / 32)), (600, 1),
                                                         (1000, 1), ("full", 1)])
def test_steps_per_epoch(batch_size: Any, steps_per_epoch: int) -> None:
    trainer = make_trainer(epochs=3, batch_size=batch_size)
    recorder = Recorder()
    trainer.callbacks.append(recorder)
    history = trainer.fit(blobs())
    assert trainer.optimizer.steps == 3 * steps_per_epoch
    assert history["epoch"] == [1, 2, 3]
    last_of_epoch = [b for b in recorder.batches if b[1] == steps_per_epoch]
    assert [b[3] for b in last_of_epoch] == [600] * 3  # every row seen once per epoch
    assert [b[4] for b in last_of_epoch] == pytest.approx(history["loss"])


def one_piece_descent(model: ln.Sequential, data: Dataset, steps: int, lr: float) -> None:
    """Full-batch gradient descent written out: the whole batch through the model at once."""
    objective, sgd = ln.pair(model, ln.CrossEntropy()), ln.SGD(model.parameters(), lr=lr)
    x = data.batch(slice(None), model.dtype)
    for _ in range(steps):
        objective.forward(x, data.labels(), training=True)
        sgd.zero_grad()
        objective.backward()
        sgd.step()


def test_full_batch_is_the_seeds_gradient_descent(monkeypatch: pytest.MonkeyPatch) -> None:
    # One block (600 rows, blocks of up to 1000): the same steps, bit for bit.
    monkeypatch.setattr(trainer_module, "BLOCK_ROWS", 1000)
    data = blobs()
    trainer = make_trainer(optimizer="SGD", lr=0.5, epochs=3, batch_size="full")
    trainer.fit(data)
    model = small_model()
    one_piece_descent(model, data, 3, 0.5)
    for name, value in model.get_weights().items():
        assert np.array_equal(trainer.model.get_weights()[name], value)


@pytest.mark.parametrize("block_rows", [100, 128, 599])
def test_a_batch_in_row_blocks_takes_the_same_step(monkeypatch: pytest.MonkeyPatch, block_rows: int) -> None:
    # 600 rows in blocks of block_rows: 6 equal blocks; 4 of 128 and one of 88; 599 and 1.
    # Each block's gradient must be weighted by its share of the rows, not by 1/blocks:
    # the gradient, loss and accuracy of the whole batch, up to float64 rounding.
    monkeypatch.setattr(trainer_module, "BLOCK_ROWS", block_rows)
    data = blobs()
    trainer = make_trainer(small_model(dtype=np.float64), optimizer="SGD", lr=0.5, epochs=3,
                           batch_size="full")
    history = trainer.fit(data)
    model = small_model(dtype=np.float64)
    one_piece_descent(model, data, 3, 0.5)
    for name, value in model.get_weights().items():
        np.testing.assert_allclose(trainer.model.get_weights()[name], value, rtol=1e-12, atol=1e-14)
    reference = make_trainer(small_model(dtype=np.float64), optimizer="SGD", lr=0.5, epochs=3,
                             batch_size="full")
    monkeypatch.setattr(trainer_module, "BLOCK_ROWS", 1000)
    expected = reference.fit(data)
    assert history["loss"] == pytest.approx(expected["loss"], rel=1e-12)
    assert history["accuracy"] == expected["accuracy"]


def test_a_layer_that_mixes_rows_keeps_its_batch_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # BatchNorm's training statistics span the batch: it is not rowwise, so the step runs
    # in one piece however small the blocks, bit for bit the one-piece descent.
    monkeypatch.setattr(trainer_module, "BLOCK_ROWS", 100)

    def batch_norm_model() -> ln.Sequential:
        return ln.Sequential([ln.Dense(8), ln.BatchNorm(), ln.ReLU(), ln.Dense(CLASSES), ln.Softmax()],
                             input_shape=(FEATURES,), seed=3)

    data = blobs()
    trainer = make_trainer(batch_norm_model(), optimizer="SGD", lr=0.5, epochs=3, batch_size="full")
    assert not trainer.objective.rowwise and not ln.BatchNorm.rowwise
    trainer.fit(data)
    model = batch_norm_model()
    one_piece_descent(model, data, 3, 0.5)
    for name, value in model.get_weights().items():
        assert np.array_equal(trainer.model.get_weights()[name], value)


def test_only_declared_rowwise_layers_and_losses_are_computed_in_blocks() -> None:
    class Custom(ln.Layer):
        def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
            return x

        def backward(self, dY: np.ndarray) -> np.ndarray:
            return dY

    class RowwiseCustom(Custom):
        rowwise = True

    def objective(layer: ln.Layer, loss: ln.Loss) -> ln.Objective:
        return ln.pair(ln.Sequential([ln.Dense(4), layer, ln.Dense(CLASSES), ln.Softmax()],
                                     input_shape=(FEATURES,)), loss)

    assert objective(ln.ReLU(), ln.CrossEntropy()).rowwise
    assert not objective(Custom(), ln.CrossEntropy()).rowwise
    assert objective(RowwiseCustom(), ln.CrossEntropy()).rowwise

    class MeanOverBatch(ln.CrossEntropy):
        rowwise = False

    assert not objective(ln.ReLU(), MeanOverBatch()).rowwise


def test_hooks_are_called_in_order_with_running_batch_logs() -> None:
    recorder = Recorder()
    make_trainer(epochs=2, batch_size=256, callbacks=[recorder]).fit(blobs())
    assert recorder.calls == ["train_begin", "epoch_begin 1", "epoch_end 1", "epoch_begin 2",
                              "epoch_end 2", "train_end"]
    assert [b[:4] for b in recorder.batches] == [(1, 1, 3, 256), (1, 2, 3, 512), (1, 3, 3, 600),
                                                 (2, 1, 3, 256), (2, 2, 3, 512), (2, 3, 3, 600)]


def test_validation_split_holds_out_a_seeded_fraction() -> None:
    trainer = make_trainer(epochs=1, batch_size=100, validation_split=0.25, seed=7)
    history = trainer.fit(blobs())
    held = trainer.validation_index
    assert held is not None and len(held) == 150 and len(np.unique(held)) == 150
    assert trainer.optimizer.steps == 5  # 450 training rows in batches of 100
    assert set(history.columns) >= {"val_loss", "val_accuracy"}
    again = make_trainer(epochs=1, validation_split=0.25, seed=7)
    again.fit(blobs())
    other = make_trainer(epochs=1, validation_split=0.25, seed=8)
    other.fit(blobs())
    assert np.array_equal(again.validation_index, held)
    assert not np.array_equal(other.validation_index, held)


def test_validation_data_wins_over_the_split() -> None:
    recorder = Recorder()
    trainer = make_trainer(epochs=1, batch_size="full", validation_split=0.5, callbacks=[recorder])
    validation = blobs(50, seed=1)
    history = trainer.fit(blobs(), validation)
    assert trainer.validation_index is None
    assert recorder.batches[-1][3] == 600  # every training row was trained on
    assert history["val_loss"] == [trainer.evaluate(validation).loss]


def test_schedule_sets_the_rate_of_each_epoch() -> None:
    trainer = make_trainer(optimizer="SGD", lr=0.4, epochs=4, schedule=StepDecay(step_size=1, gamma=0.5))
    history = trainer.fit(blobs())
    assert history["lr"] == [0.4, 0.2, 0.1, 0.05]
    assert trainer.optimizer.lr == 0.05
    assert trainer.base_lr == 0.4


def test_without_schedule_the_rate_stays() -> None:
    assert make_trainer(lr=0.03, epochs=2).fit(blobs())["lr"] == [0.03, 0.03]


@pytest.mark.parametrize("column, values, best, stop", [
    ("score", [5.0, 3.0, 4.0, 3.5, 1.0, 0.5], 2, 4),
    ("score_accuracy", [0.5, 0.9, 0.8, 0.85, 0.99, 1.0], 2, 4),
    ("score", [5.0, 4.0, 3.0, 2.0, 1.0, 0.5], 6, 0),
])
def test_early_stopping_stops_and_restores_the_best_weights(
        column: str, values: list[float], best: int, stop: int) -> None:
    recorder = Recorder()
    stopper = EarlyStopping(column, patience=2)
    trainer = make_trainer(epochs=6, callbacks=[Scripted(column, values), recorder, stopper])
    history = trainer.fit(blobs())
    assert (stopper.best_epoch, stopper.stopped_epoch) == (best, stop)
    assert len(history) == (stop or 6)
    expected = recorder.weights[best if stop else 6]
    for name, value in trainer.model.get_weights().items():
        assert np.array_equal(value, expected[name])


def test_early_stopping_from_settings_respects_min_delta() -> None:
    settings = EarlyStoppingSettings(monitor="score", patience=1, min_delta=0.5, restore_best=False)
    trainer = make_trainer(epochs=5, early_stopping=settings,
                           callbacks=[Scripted("score", [3.0, 2.6, 2.0, 1.0, 0.0])])
    assert isinstance(trainer.callbacks[-1], EarlyStopping)
    assert len(trainer.fit(blobs())) == 2  # 2.6 is not better than 3.0 by 0.5


def test_early_stopping_on_a_missing_column_is_a_structured_error() -> None:
    trainer = make_trainer(epochs=2, early_stopping=EarlyStoppingSettings())
    with pytest.raises(ln.InvalidArgument, match="monitor must be a history column.*got 'val_loss'.*add validation data"):
        trainer.fit(blobs())


def test_same_seed_gives_identical_runs_and_another_seed_does_not() -> None:
    def run(seed: int) -> Trainer:
        trainer = make_trainer(small_model(dropout=0.3), epochs=3, batch_size=50,
                               validation_split=0.2, seed=seed)
        trainer.fit(blobs())
        return trainer

    a, b, c = run(11), run(11), run(12)
    assert without_seconds(a.history.rows) == without_seconds(b.history.rows)
    for name, value in a.model.get_weights().items():
        assert np.array_equal(value, b.model.get_weights()[name])
    assert without_seconds(a.history.rows) != without_seconds(c.history.rows)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_a_diverging_loss_stops_with_a_clear_error() -> None:
    model = ln.Sequential([ln.Dense(8), ln.Dense(CLASSES)], input_shape=(FEATURES,))
    trainer = Trainer(model, ln.MSE(), ln.SGD(model.parameters(), lr=1e6))
    recorder = Recorder()
    trainer.callbacks.append(recorder)
    with pytest.raises(TrainingDivergedError, match=r"loss became (nan|inf) at epoch \d+ batch \d+; "
                                                    r"lower the learning rate \(now 1e\+06\)"):
        trainer.fit(blobs())
    assert recorder.calls[-1] == "train_end"  # a progress bar gets closed


def test_predict_returns_probabilities() -> None:
    data = blobs()
    trainer = make_trainer(epochs=1)
    trainer.fit(data)
    probs = trainer.predict(data)
    assert probs.shape == (600, CLASSES) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(probs, trainer.model.predict(data.batch(slice(None))))
    logits_model = ln.Sequential([ln.Dense(CLASSES)], input_shape=(FEATURES,))
    logits_trainer = Trainer(logits_model, ln.CrossEntropy(from_logits=True),
                             ln.Adam(logits_model.parameters()))
    assert np.allclose(logits_trainer.predict(data).sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("data, message", [
    (Dataset(blobs().x, None, name="unlabelled"), "unlabelled has no labels"),
    (Dataset(blobs().x[:, :8], blobs().y), r"samples of shape \[8\], the model expects \[16\]"),
    (Dataset(blobs().x, blobs().y + 1), "labels from 1 to 3, but the model predicts 3 classes"),
    (Dataset(blobs().x[:0], blobs().y[:0]), "has no rows"),
])
def test_data_that_does_not_fit_is_a_data_error(data: Dataset, message: str) -> None:
    with pytest.raises(ln.DataError, match=message):
        make_trainer(epochs=1).fit(data)


@pytest.mark.parametrize("settings, key", [
    ({"batch_size": 0}, "batch_size"), ({"epochs": 0}, "epochs"),
    ({"validation_split": 1.0}, "validation_split"), ({"seed": -1}, "seed"),
])
def test_bad_settings_are_structured_errors(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ln.InvalidArgument, match=rf"^{key} must be") as caught:
        make_trainer(**settings)
    assert caught.value.argument == key


def test_a_split_leaving_no_rows_is_a_data_error() -> None:
    with pytest.raises(ln.DataError, match="leaves 0 validation"):
        make_trainer(validation_split=0.001).fit(blobs(100))


def test_fit_names_unknown_components_with_a_hint() -> None:
    data = blobs()
    with pytest.raises(ln.UnknownNameError, match="unknown optimizer 'Adamm'.*did you mean 'Adam'"):
        fit(small_model(), data.x, data.y, optimizer="Adamm")
    with pytest.raises(ln.UnknownNameError, match="unknown schedule"):
        fit(small_model(), data.x, data.y, schedule="Cosine")
    with pytest.raises(ln.DataError, match="labels must be integers"):
        fit(small_model(), data.x, data.y.astype(float))


def test_an_optimizer_on_other_parameters_is_refused() -> None:
    model = small_model()
    with pytest.raises(ValueError, match="optimizer must be an optimizer of this model's parameters"):
        Trainer(model, ln.CrossEntropy(), ln.Adam(small_model().parameters()))


def test_evaluation_does_not_depend_on_the_batch_size() -> None:
    trainer = make_trainer(epochs=1)
    data = blobs(301, seed=4)
    small, large = trainer.evaluate(data, batch_size=7), evaluate(trainer.model, trainer.loss, data)
    assert np.array_equal(small.confusion, large.confusion)
    assert small.loss == pytest.approx(large.loss, rel=1e-6)
    assert small.accuracy == np.trace(small.confusion) / 301


def test_a_single_sigmoid_unit_is_a_two_class_classifier() -> None:
    data = blobs()
    binary = Dataset(data.x, (data.y == 1).astype(np.int64), scale=data.scale)
    model = ln.Sequential([ln.Dense(8), ln.ReLU(), ln.Dense(1), ln.Sigmoid()], input_shape=(FEATURES,))
    trainer = Trainer(model, ln.BinaryCrossEntropy(), ln.Adam(model.parameters(), lr=0.02),
                      settings=ln.training.TrainSettings(epochs=15))
    trainer.fit(binary)
    result = trainer.evaluate(binary)
    assert result.confusion.shape == (2, 2) and result.accuracy >= 0.99
    assert np.array_equal(result.confusion.sum(axis=1), np.bincount(binary.y))


def test_dataset_batches_cover_every_row_in_order_and_predict_handles_no_rows() -> None:
    data = blobs(10)
    pieces = list(data.batches(4, np.float64))
    assert [rows for rows, _ in pieces] == [slice(0, 4), slice(4, 8), slice(8, 12)]
    assert np.array_equal(np.concatenate([x for _, x in pieces]), data.batch(slice(None), np.float64))
    trainer = make_trainer(epochs=1)
    assert trainer.predict(data.subset(slice(0, 0))).shape == (0, *trainer.model.output_shape)
    assert np.allclose(trainer.predict(data, batch_size=3), trainer.predict(data, batch_size=100))


def test_many_classes_are_evaluated_without_a_classes_squared_matrix() -> None:
    """A 5,000-class model: per-class figures from counts; the matrix only on demand, refused
    above MAX_CLASSES in one line (a hostile 40 KB model file once cost gigabytes here)."""
    from layernet.errors import ModelSizeError
    from layernet.training.metrics import MAX_CLASSES

    model = ln.Sequential([ln.Dense(5000), ln.Softmax()], input_shape=(3,), seed=0)
    x = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    labels = np.arange(64) * 70
    result = ln.evaluate(model, x, labels)
    predicted = result.predicted
    assert result.classes == 5000 > MAX_CLASSES and result.samples == 64
    assert result.support.sum() == 64 and result.support[70] == 1
    assert np.array_equal(result.recall[labels], (predicted == labels).astype(float))
    assert result.to_dict()["confusion"] is None
    with pytest.raises(ModelSizeError, match="5,000 classes"):
        result.confusion


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("batch_size", [32, "full"])
def test_non_finite_inputs_are_named_as_such_not_as_a_learning_rate(bad: float, batch_size: Any) -> None:
    data = blobs()
    x = data.x.astype(np.float32) / 255
    x[7, 3] = bad
    with pytest.raises(ln.DataError, match=r"training inputs hold NaN or infinite values \(epoch 1 "
                                           r"batch 1: 1 of them\)"):
        fit(small_model(), x, data.y, batch_size=batch_size, shuffle=False, epochs=1, verbose=0)
    # finite inputs that overflow are still a divergence with the learning-rate hint
    with pytest.raises(TrainingDivergedError, match="lower the learning rate"):
        fit(small_model(), data.x.astype(np.float32) * 1e30, data.y, batch_size="full", optimizer="SGD",
            lr=0.1, epochs=3, verbose=0)
