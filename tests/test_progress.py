"""Progress output: a bar that updates in place on a terminal, clean lines elsewhere."""

from __future__ import annotations

import io

import numpy as np

import layernet as ln
from layernet.training.progress import Progress
from layernet.training.settings import EarlyStopping as EarlyStoppingSettings


def _fit(progress: Progress, settings: ln.TrainSettings) -> ln.Trainer:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = ln.Sequential([ln.Dense(8), ln.ReLU(), ln.Dense(2), ln.Softmax()], input_shape=(4,))
    trainer = ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters(), lr=0.01),
                         settings=settings, callbacks=[progress])
    trainer.fit(ln.Dataset(x, y))
    return trainer


def test_terminal_bar_updates_in_place_then_leaves_one_line_per_epoch() -> None:
    stream = io.StringIO()
    _fit(Progress(2, stream=stream, interactive=True, header="training demo"),
         ln.TrainSettings(epochs=2, batch_size=10))
    text = stream.getvalue()
    assert text.startswith("training demo\n")
    assert "\r" in text and "/40 [" in text and "batch/s" in text
    final_lines = [line.split("\r")[-1] for line in text.splitlines()]
    assert sum(line.startswith("epoch ") and "accuracy" in line for line in final_lines) == 2


def test_piped_output_has_no_carriage_returns() -> None:
    stream = io.StringIO()
    _fit(Progress(3, stream=stream, interactive=False), ln.TrainSettings(epochs=3, batch_size=10))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[0] == "loss: CrossEntropy fused with the final Softmax (computed from logits)"
    assert [line.split()[1] for line in lines[1:]] == ["1/3", "2/3", "3/3"]


def test_early_stopping_is_announced() -> None:
    stream = io.StringIO()
    settings = ln.TrainSettings(epochs=50, batch_size=400, validation_split=0.25,
                                early_stopping=EarlyStoppingSettings(monitor="loss", patience=1,
                                                                     min_delta=10.0))
    trainer = _fit(Progress(50, stream=stream, interactive=False), settings)
    assert trainer.epoch == 2
    assert "early stopping after epoch 2: loss did not improve for 1 epoch; restored the weights " \
           "of epoch 1" in stream.getvalue()
