"""Checkpoints: resuming continues bit-exactly; mismatched or damaged checkpoints are refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_training_support import Scripted, blobs, make_trainer, small_model, without_seconds

import layernet as ln
from layernet.io.models import load_model
from layernet.schedules import CosineDecay, StepDecay
from layernet.io.checkpoints import Checkpoint, load_checkpoint, restore_checkpoint, save_checkpoint
from layernet.training import EarlyStoppingSettings, Trainer


def trainer_for(case: str) -> Trainer:
    """The runs resumed in the tests: each exercises optimiser state, RNGs and schedules."""
    if case == "sgd-momentum-dropout-step":
        model = small_model(dropout=0.3)
        return Trainer(model, ln.CrossEntropy(),
                       ln.SGD(model.parameters(), lr=0.2, momentum=0.9, nesterov=True),
                       schedule=StepDecay(step_size=1, gamma=0.7),
                       settings=ln.training.TrainSettings(epochs=4, batch_size=64))
    if case == "adam-dropout-split-cosine":
        return make_trainer(small_model(dropout=0.5), lr=0.01, epochs=4, batch_size=50,
                            validation_split=0.2, seed=21, schedule=CosineDecay(epochs=4, warmup_epochs=1))
    model = small_model(dtype=np.float64)
    return Trainer(model, ln.CrossEntropy(), ln.AdamW(model.parameters(), lr=0.05),
                   settings=ln.training.TrainSettings(epochs=4, batch_size="full",
                                                      early_stopping=EarlyStoppingSettings(monitor="loss")))


CASES = ["sgd-momentum-dropout-step", "adam-dropout-split-cosine", "adamw-float64-full-batch"]


def assert_same_state(a: Trainer, b: Trainer) -> None:
    """Weights, optimiser state and history (but seconds) are identical."""
    assert a.epoch == b.epoch
    assert without_seconds(a.history.rows) == without_seconds(b.history.rows)
    for name, value in a.model.get_weights().items():
        assert np.array_equal(value, b.model.get_weights()[name]), name
    state_a, state_b = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert state_a.keys() == state_b.keys()
    assert all(np.array_equal(state_a[k], state_b[k]) for k in state_a)


@pytest.mark.parametrize("case", CASES)
def test_resuming_continues_bit_exactly(tmp_path: Path, case: str) -> None:
    data = blobs()
    straight = trainer_for(case)
    straight.fit(data)
    first = trainer_for(case)
    first.callbacks.append(Checkpoint(tmp_path, every=1))
    first.fit(data, epochs=2)
    resumed = load_checkpoint(tmp_path / "last.npz")
    assert resumed.epoch == 2 and len(resumed.history) == 2
    resumed.fit(data)
    assert_same_state(resumed, straight)


@pytest.mark.parametrize("case", CASES[:2])
def test_restoring_into_a_fresh_trainer_continues_bit_exactly(tmp_path: Path, case: str) -> None:
    data = blobs()
    straight = trainer_for(case)
    straight.fit(data)
    first = trainer_for(case)
    first.fit(data, epochs=3)
    save_checkpoint(tmp_path / "c.npz", first)
    fresh = trainer_for(case)
    restore_checkpoint(tmp_path / "c.npz", fresh)
    fresh.fit(data)
    assert_same_state(fresh, straight)


def test_the_checkpoint_seed_fixes_the_validation_split(tmp_path: Path) -> None:
    data = blobs()
    straight = make_trainer(epochs=2, validation_split=0.3, seed=21)
    straight.fit(data)
    first = make_trainer(epochs=2, validation_split=0.3, seed=21)
    first.fit(data, epochs=1)
    save_checkpoint(tmp_path / "c.npz", first)
    other_seed = make_trainer(epochs=2, validation_split=0.3, seed=99)
    restore_checkpoint(tmp_path / "c.npz", other_seed)
    other_seed.fit(data)
    assert np.array_equal(other_seed.validation_index, straight.validation_index)
    assert_same_state(other_seed, straight)


def test_a_loaded_checkpoint_rebuilds_every_component(tmp_path: Path) -> None:
    trainer = trainer_for("sgd-momentum-dropout-step")
    trainer.fit(blobs(), epochs=1)
    save_checkpoint(tmp_path / "c.npz", trainer)
    loaded = load_checkpoint(tmp_path / "c.npz")
    assert loaded.model.get_config() == trainer.model.get_config()
    assert repr(loaded.optimizer) == repr(ln.SGD(trainer.model.parameters(), lr=0.2, momentum=0.9,
                                                 nesterov=True))
    assert repr(loaded.schedule) == repr(trainer.schedule)
    assert loaded.settings == trainer.settings and loaded.base_lr == 0.2
    assert loaded.model.rng.bit_generator.state == trainer.model.rng.bit_generator.state
    assert loaded.shuffle_rng.bit_generator.state == trainer.shuffle_rng.bit_generator.state


def test_checkpoint_callback_keeps_the_last_and_the_best(tmp_path: Path) -> None:
    saver = Checkpoint(tmp_path / "run", every=2, monitor="score")
    trainer = make_trainer(epochs=5, callbacks=[Scripted("score", [3.0, 1.0, 2.0, 4.0, 5.0]), saver])
    trainer.fit(blobs())
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["best.npz", "last.npz"]
    assert load_checkpoint(saver.last_path).epoch == 4
    best = load_checkpoint(saver.best_path)
    assert best.epoch == 2 and best.history["score"] == [3.0, 1.0]


def test_a_resumed_checkpoint_callback_remembers_the_best(tmp_path: Path) -> None:
    scores = Scripted("score", [3.0, 1.0, 2.0, 1.5])
    trainer = make_trainer(epochs=3, callbacks=[scores, Checkpoint(tmp_path, monitor="score")])
    trainer.fit(blobs())
    resumed = load_checkpoint(tmp_path / "last.npz",
                              callbacks=[scores, Checkpoint(tmp_path, monitor="score")])
    resumed.fit(blobs(), epochs=4)
    assert load_checkpoint(tmp_path / "last.npz").epoch == 4
    assert load_checkpoint(tmp_path / "best.npz").epoch == 2  # 1.5 does not beat epoch 2's 1.0


def test_another_architecture_is_refused_with_both_shapes(tmp_path: Path) -> None:
    trainer = make_trainer(small_model(hidden=8))
    save_checkpoint(tmp_path / "c.npz", trainer)
    other = make_trainer(small_model(hidden=12))
    with pytest.raises(ln.ModelFileError, match=r"checkpoint is for a model 16-8-3, this model is "
                                                r"16-12-3 \(layers.0.bias: float32\[8\] in the checkpoint"):
        restore_checkpoint(tmp_path / "c.npz", other)
    assert other.epoch == 0


def test_another_optimizer_is_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.npz", make_trainer(optimizer="Adam"))
    with pytest.raises(ln.ModelFileError, match="holds Adam optimizer state, this trainer uses SGD"):
        restore_checkpoint(tmp_path / "c.npz", make_trainer(optimizer="SGD"))


def test_models_and_checkpoints_are_not_confused(tmp_path: Path) -> None:
    trainer = make_trainer()
    save_checkpoint(tmp_path / "c.npz", trainer)
    trainer.model.save(tmp_path / "m.npz")
    with pytest.raises(ln.ModelFileError, match="layernet-checkpoint file, expected a layernet-model"):
        load_model(tmp_path / "c.npz")
    with pytest.raises(ln.ModelFileError, match="layernet-model file, expected a layernet-checkpoint"):
        load_checkpoint(tmp_path / "m.npz")


@pytest.mark.parametrize("changes, message", [
    ({"state": np.array('{"epoch": 1}')}, "training state entry is invalid"),
    ({"config/optimizer": np.array('{"type": "Adam", "lr": -1}')}, "a stored config is invalid"),
    ({"config/loss": np.array('{"type": "FocalLoss"}')}, "loss 'FocalLoss' is not registered; import"),
    ({"optimizer/exp_avg": np.zeros(5, np.float32)}, "optimizer state does not fit"),
])
def test_inconsistent_checkpoints_say_what_is_wrong(tmp_path: Path, changes: dict[str, Any],
                                                    message: str) -> None:
    path = tmp_path / "c.npz"
    trainer = make_trainer(epochs=1)
    trainer.fit(blobs())
    save_checkpoint(path, trainer)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    np.savez(path, **{**arrays, **changes})
    with pytest.raises(ln.ModelFileError, match=message):
        load_checkpoint(path)


def test_a_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    save_checkpoint(path, make_trainer())
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ln.ModelFileError, match="not a readable"):
        load_checkpoint(path)


KILLED_WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from test_training_support import make_trainer, small_model
from layernet.io.checkpoints import save_checkpoint
trainer = make_trainer(small_model(hidden=256))
while True:
    save_checkpoint(sys.argv[1], trainer)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_writer_killed_mid_write_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.npz"
    tests = Path(__file__).parent
    for delay in (0.05, 0.13, 0.21):
        process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), str(tests)])
        deadline = time.monotonic() + 20
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert load_checkpoint(path).model.layers[0].parameters()[0].shape == (16, 256)
