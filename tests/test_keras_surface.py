"""What a Keras or PyTorch user expects from the Python API: one preprocessing carried by the
model through every entry point, ``ln.fit(verbose=..., threads=...)``, ``ln.evaluate``,
continuing a run, ``Trainer.fit`` on arrays and clear errors for anything else."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import layernet as ln
from layernet.data import load_data
from layernet.data.dataset import SampleSplits
from layernet.config import load_run_config

from conftest import RunCli

ROWS = 1000


def small_model(seed: int = 0) -> ln.Sequential:
    return ln.Sequential([ln.Flatten(), ln.Dense(10), ln.Softmax()], input_shape=(28, 28), seed=seed)


@pytest.fixture(scope="module")
def sample() -> SampleSplits:
    splits = ln.load_sample()
    return SampleSplits(splits.train.subset(slice(0, ROWS)), splits.test.subset(slice(0, 300)))


def assert_same_predictions(model: ln.Sequential, raw_test: npt.NDArray[np.uint8],
                            seen: ln.Dataset) -> None:
    """``predict`` on raw uint8 equals ``predict`` on what evaluation saw, to the last bit."""
    assert raw_test.dtype == np.uint8
    on_raw = model.predict(raw_test)
    on_seen = model.predict(seen.batch(slice(None), model.dtype))
    np.testing.assert_array_equal(on_raw, on_seen)
    evaluation = ln.evaluate(model, raw_test, seen.labels())
    np.testing.assert_array_equal(evaluation.predicted, on_raw.argmax(axis=1))


def test_ln_fit_on_arrays_carries_the_preprocessing(sample: SampleSplits, tmp_path: Path) -> None:
    model = small_model()
    ln.fit(model, sample.train.x, sample.train.y, epochs=1, verbose=0)
    assert model.preprocessing is not None and model.preprocessing.scale == 1 / 255
    seen = ln.Dataset.from_arrays(sample.test.x, sample.test.y)
    assert_same_predictions(model, sample.test.x, seen)
    model.save(tmp_path / "m.npz")
    loaded = ln.load_model(tmp_path / "m.npz")
    assert loaded.preprocessing is not None and loaded.preprocessing.kind == "u"
    np.testing.assert_array_equal(loaded.predict(sample.test.x), model.predict(sample.test.x))


def test_the_sample_loader_and_the_array_path_train_identically(sample: SampleSplits) -> None:
    by_dataset, by_arrays = small_model(), small_model()
    ln.fit(by_dataset, sample.train, epochs=1, verbose=0)
    ln.fit(by_arrays, sample.train.x, sample.train.y, epochs=1, verbose=0)
    for name, value in by_dataset.get_weights().items():
        np.testing.assert_array_equal(value, by_arrays.get_weights()[name])
    assert_same_predictions(by_dataset, sample.test.x, sample.test)


def test_trainer_fit_on_arrays_carries_the_preprocessing(sample: SampleSplits) -> None:
    model = small_model()
    trainer = ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters()),
                         settings=ln.TrainSettings(epochs=1))
    trainer.fit(sample.train.x, sample.train.y)
    assert_same_predictions(model, sample.test.x, sample.test)
    np.testing.assert_array_equal(trainer.predict(sample.test.x), model.predict(sample.test.x))


def test_the_cli_run_carries_the_preprocessing(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("model: {input_shape: [784], layers: [{type: Dense, units: 10}, Softmax]}\n"
                      "train: {epochs: 1}\ndata: {source: sample, limit: 1000}\n")
    assert run_cli("train", config, "--out", tmp_path / "run", "--no-plots", "--quiet").returncode == 0
    model = ln.load_model(tmp_path / "run" / "model.npz")
    seen = load_data(load_run_config(config).data).test
    assert seen is not None
    raw = ln.load_sample().test.x.reshape(-1, 784)
    assert_same_predictions(model, raw, seen)


def test_standardized_float_data_is_normalised_the_same_everywhere(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(50, 10, size=(200, 4))
    y = (x[:, 0] > 50).astype(np.int64)
    model = ln.Sequential([ln.Dense(2), ln.Softmax()], input_shape=(4,))
    data = ln.Dataset(x, y, shift=50.0, scale=0.1)
    ln.fit(model, data, epochs=1, verbose=0)
    assert model.preprocessing is not None and model.preprocessing.kind == "f"
    # predict takes raw inputs; forward takes normalised ones (what evaluation feeds it)
    np.testing.assert_array_equal(model.predict(x), model.forward(data.batch(slice(None))))
    model.save(tmp_path / "f.npz")
    np.testing.assert_array_equal(ln.load_model(tmp_path / "f.npz").predict(x), model.predict(x))
    assert ln.evaluate(model, x, y).accuracy == ln.evaluate(model, data).accuracy


def test_floats_outside_the_training_range_warn_once(sample: SampleSplits) -> None:
    model = small_model()
    ln.fit(model, sample.train.x, sample.train.y, epochs=1, verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict(sample.test.x.astype(np.float32))       # 0..255: not what it learnt on
        model.predict(sample.test.x.astype(np.float32))
        model.predict(sample.test.x.astype(np.float32) / 255)
    mine = [w for w in caught if issubclass(w.category, ln.LayernetWarning)]
    assert len(mine) == 1 and "trained on values in [0, 1]" in str(mine[0].message)


# -- item 2: the Python API -----------------------------------------------------------------------

def test_fit_verbose_writes_progress_to_stderr_only_when_asked(sample: SampleSplits,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    ln.fit(small_model(), sample.train, epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")
    ln.fit(small_model(), sample.train, epochs=2, verbose=1)
    out, err = capsys.readouterr()
    assert out == "" and "epoch 1/2" in err and "epoch 2/2" in err and "\r" not in err


def test_fit_with_validation_data_and_threads(sample: SampleSplits) -> None:
    history = ln.fit(small_model(), sample.train.x, sample.train.y, epochs=1, verbose=0,
                     validation_data=(sample.test.x, sample.test.labels()), threads=1)
    assert history.columns[:5] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]


def test_evaluate_reports_per_class_metrics_top_k_and_mistakes(sample: SampleSplits) -> None:
    model = small_model()
    ln.fit(model, sample.train, epochs=2, verbose=0)
    result = ln.evaluate(model, sample.test.x, sample.test.y, loss="CrossEntropy")
    assert list(result.top_k) == [1, 2, 3, 4, 5] and result.top_k[1] == result.accuracy
    assert all(a <= b for a, b in zip(list(result.top_k.values()), list(result.top_k.values())[1:]))
    assert result.precision.shape == result.recall.shape == result.f1.shape == (10,)
    assert result.support.sum() == len(sample.test)
    wrong = result.misclassified
    assert len(wrong) == round((1 - result.accuracy) * len(sample.test))
    assert np.all(result.predicted[wrong] != sample.test.labels()[wrong])
    assert set(result.to_dict()) >= {"top_k", "per_class", "confusion", "misclassified"}


def test_fit_continues_a_checkpoint_with_its_optimiser_state(sample: SampleSplits, tmp_path: Path) -> None:
    straight = small_model()
    ln.fit(straight, sample.train, epochs=2, verbose=0, optimizer="Adam")
    first = small_model()
    checkpoint = ln.Checkpoint(tmp_path)
    ln.fit(first, sample.train, epochs=1, verbose=0, callbacks=[checkpoint])
    trainer = ln.load_checkpoint(checkpoint.last_path)
    history = ln.fit(trainer, sample.train, epochs=2, verbose=0)
    assert history["epoch"] == [1, 2]
    for name, value in straight.get_weights().items():
        np.testing.assert_array_equal(value, trainer.model.get_weights()[name])


def test_fit_initial_epoch_continues_the_epoch_count(sample: SampleSplits) -> None:
    history = ln.fit(small_model(), sample.train, epochs=3, initial_epoch=2, verbose=0)
    assert history["epoch"] == [3]


@pytest.mark.parametrize("bad", [{"x": 1}, "train.csv", None, 3.0])
def test_trainer_fit_refuses_anything_but_arrays_or_a_dataset(bad: Any) -> None:
    model = small_model()
    trainer = ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters()))
    with pytest.raises(ln.DataError, match="expected a layernet Dataset or an array"):
        trainer.fit(bad)


def test_trainer_fit_without_labels_says_so() -> None:
    model = small_model()
    trainer = ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters()))
    with pytest.raises(ln.DataError, match="labels are missing"):
        trainer.fit(np.zeros((4, 28, 28), np.uint8))


def test_load_sample_test_is_always_there() -> None:
    splits = ln.load_sample()
    assert splits.test.x.shape == (2000, 28, 28) and splits.train.scale == 1 / 255


def test_progress_lives_in_the_training_floor() -> None:
    stream = io.StringIO()
    progress = ln.Progress(1, stream=stream, interactive=False)
    model = small_model()
    ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters()), settings=ln.TrainSettings(epochs=1),
               callbacks=[progress]).fit(np.zeros((8, 28, 28), np.uint8), np.zeros(8, np.int64))
    assert "epoch 1/1" in stream.getvalue()


@pytest.mark.parametrize("setting, spec, named", [
    ("schedule", {"type": "StepDecay", "step": 1}, "StepDecay"),
    ("optimizer", {"type": "Adam", "momentum": 0.9}, "Adam"),
    ("loss", {"type": "CrossEntropy", "smoothing": 0.1}, "CrossEntropy"),
])
def test_a_spec_with_an_argument_the_class_does_not_take_is_a_clear_error(
        sample: SampleSplits, setting: str, spec: dict[str, Any], named: str) -> None:
    with pytest.raises(ln.InvalidArgument, match=rf"^{named} must be given the arguments it takes \(.*\), "
                                                 rf"got .*unexpected keyword argument"):
        ln.fit(small_model(), sample.train.x, sample.train.y, epochs=1, verbose=0, **{setting: spec})


@ln.register_layer
class KerasSurfaceDouble(ln.Layer):
    """A user's layer (defined in this test module): ``2 · x``, shape ``(batch, *shape)`` kept."""

    def forward(self, x: npt.NDArray[Any], training: bool = False) -> npt.NDArray[Any]:
        return 2 * x

    def backward(self, grad: npt.NDArray[Any], need_input_grad: bool = True) -> npt.NDArray[Any]:
        return 2 * grad


def test_load_model_names_the_module_a_missing_layer_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ln.Sequential([ln.Dense(3), KerasSurfaceDouble(), ln.Softmax()], input_shape=(4,))
    assert model.plugins == [__name__]
    model.save(tmp_path / "m.npz")
    assert ln.load_model(tmp_path / "m.npz").plugins == [__name__]
    monkeypatch.delitem(ln.LAYERS._classes, "KerasSurfaceDouble")  # a new process that never imported it
    with pytest.raises(ln.ModelFileError, match=rf"layer 'KerasSurfaceDouble', which is not registered; "
                                                rf"import the module {__name__} \(where its layers came from"):
        ln.load_model(tmp_path / "m.npz")
