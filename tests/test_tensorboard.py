"""TensorBoard scalars (the ``tensorboard`` extra): the event files are read back record by record
(TFRecord framing with its CRC-32C checks, then tensorboardX's ``Event`` protobuf) and every
scalar must equal the run's history, as float32 (TensorBoard's ``simple_value``)."""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ADAM_CONFIG, RunCli, copy_run

import layernet as ln
from layernet.training import History

pytest.importorskip("tensorboardX")
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.record_writer import masked_crc32c

INSTALL = "pip install 'layernet[tensorboard]'"


def records(path: Path) -> Iterator[bytes]:
    """The records of one TFRecord file, each checked against its two masked CRC-32C sums."""
    data = path.read_bytes()
    position = 0
    while position < len(data):
        header = data[position:position + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[position + 8:position + 12])
        body = data[position + 12:position + 12 + length]
        (body_crc,) = struct.unpack("<I", data[position + 12 + length:position + 16 + length])
        assert header_crc == masked_crc32c(header) and body_crc == masked_crc32c(body), path
        yield body
        position += 16 + length


def events(folder: Path) -> list[tuple[Path, Any]]:
    """Every event of every event file in ``folder``, files in name (= creation time) order."""
    files = sorted(folder.glob("events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    return [(path, Event.FromString(record)) for path in files for record in records(path)]


def scalars(folder: Path) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` as TensorBoard shows them: a resumed writer's purge mark
    (a ``SessionLog.START`` at step ``s``) drops the earlier values at steps ≥ ``s``."""
    found: dict[str, dict[int, float]] = {}
    for _, event in events(folder):
        if event.HasField("session_log") and event.session_log.status == SessionLog.START:
            for values in found.values():
                for step in [step for step in values if step >= event.step]:
                    del values[step]
        for value in event.summary.value:
            found.setdefault(value.tag, {})[event.step] = value.simple_value
    return found


def assert_scalars_equal_history(folder: Path, history: History) -> None:
    """One scalar per history column but ``epoch``, one step per epoch, equal to the history."""
    written = scalars(folder)
    assert set(written) == set(history.columns) - {"epoch"}
    for column, values in written.items():
        expected = {int(row["epoch"]): float(np.float32(row[column])) for row in history if column in row}
        assert values == expected, column


@pytest.fixture(scope="module")
def sample() -> ln.DataSplits:
    return ln.load_sample()


def small_model() -> ln.Sequential:
    return ln.Sequential([ln.Flatten(), ln.Dense(16), ln.ReLU(), ln.Dense(10), ln.Softmax()], input_shape=(28, 28),
                         seed=3)


def test_fit_with_the_callback_writes_every_history_column_of_every_epoch(
        tmp_path: Path, sample: ln.DataSplits) -> None:
    model = small_model()
    x, y = sample.train.x[:600], sample.train.y[:600]
    history = ln.fit(model, x, y, epochs=3, validation_split=0.2, verbose=0,
                     schedule={"type": "StepDecay", "step_size": 1, "gamma": 0.5},
                     callbacks=[ln.TensorBoard(tmp_path / "logs")])
    assert set(history.columns) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert_scalars_equal_history(tmp_path / "logs", history)


def test_a_run_stopped_by_ctrl_c_keeps_the_scalars_of_its_finished_epochs(
        tmp_path: Path, sample: ln.DataSplits) -> None:
    class CtrlC(ln.Callback):
        def on_epoch_end(self, trainer: ln.Trainer, epoch: int, logs: dict[str, float]) -> None:
            if epoch == 2:
                raise KeyboardInterrupt

    model = small_model()
    trainer = ln.Trainer(model, ln.CrossEntropy(), ln.Adam(model.parameters()),
                         settings=ln.TrainSettings(epochs=5),
                         callbacks=[ln.TensorBoard(tmp_path / "logs"), CtrlC()])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(sample.train.x[:300], sample.train.y[:300])
    assert_scalars_equal_history(tmp_path / "logs", trainer.history)


def test_layernet_train_tensorboard_on_a_resume_writes_the_earlier_epochs_and_the_next_resume_appends(
        run_cli: RunCli, tmp_path: Path, trained_run: Path) -> None:
    copy_run(trained_run, tmp_path)  # 2 epochs, without TensorBoard
    switched_on = run_cli("train", "--resume", "run", "--epochs", "3", "--tensorboard", "--no-plots")
    assert switched_on.returncode == 0, switched_on.stderr
    assert "tensorboard/" in switched_on.stdout
    folder = tmp_path / "run" / "tensorboard"
    (written,) = folder.iterdir()
    before = written.read_bytes()
    again = run_cli("train", "--resume", "run", "--epochs", "4", "--no-plots", "--quiet")
    assert again.returncode == 0, again.stderr
    assert written.read_bytes() == before  # the first file is kept as it was
    history = ln.History.from_csv(tmp_path / "run" / "history.csv")
    assert len(history) == 4
    assert_scalars_equal_history(folder, history)
    purges = [(path, event.step) for path, event in events(folder) if event.HasField("session_log")]
    assert purges == [(max(folder.iterdir()), 4)]  # the second writer continues after epoch 3


def test_the_config_key_turns_it_on_and_is_checked_like_every_key(run_cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "tb.yaml"
    config.write_text(ADAM_CONFIG.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    result = run_cli("train", config, "--set", "train.tensorboard=true", "--set", "train.epochs=1",
                     "--out", "run", "--no-plots", "--quiet")
    assert result.returncode == 0, result.stderr
    assert_scalars_equal_history(tmp_path / "run" / "tensorboard", ln.History.from_csv(tmp_path / "run" / "history.csv"))
    assert "tensorboard: true" in (tmp_path / "run" / "config.yaml").read_text(encoding="utf-8")
    bad = run_cli("train", config, "--set", "train.tensorboard=perhaps", "--out", "bad")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--set train.tensorboard: expected bool" in bad.stderr
    assert not (tmp_path / "bad").exists()


def tensorboard_config(tmp_path: Path) -> Path:
    text = ADAM_CONFIG.read_text(encoding="utf-8").rstrip("\n")
    config = tmp_path / "tb.yaml"
    config.write_text(text + "\ntrain:\n  epochs: 1\n  tensorboard: true\n"
                      if "\ntrain:" not in text else text.replace("\ntrain:", "\ntrain:\n  tensorboard: true", 1) + "\n",
                      encoding="utf-8")
    return config


def test_without_tensorboardx_one_line_names_the_extra_before_any_run_directory(
        run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import tensorboardX now fails
    config = tensorboard_config(tmp_path)
    line = next(number for number, text in enumerate(config.read_text().splitlines(), 1) if "tensorboard" in text)
    for argv, where in ((("validate", config), f"tb.yaml:{line}:"),
                        (("train", config), f"tb.yaml:{line}:"),
                        (("train", ADAM_CONFIG, "--tensorboard"), "--tensorboard: ")):
        result = run_cli(*argv)
        assert result.returncode == 2, argv
        assert result.stderr.count("\n") == 1 and where in result.stderr and INSTALL in result.stderr, result.stderr
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ln.LayernetError, match=r"pip install 'layernet\[tensorboard\]'"):
        ln.TensorBoard(tmp_path / "logs")
    assert run_cli("train", ADAM_CONFIG, "--tensorboard", "--print-config").returncode == 0


def test_a_fit_into_a_folder_with_events_hides_their_later_steps(tmp_path: Path, sample: ln.DataSplits) -> None:
    x, y = sample.train.x[:300], sample.train.y[:300]
    ln.fit(small_model(), x, y, epochs=3, verbose=0, callbacks=[ln.TensorBoard(tmp_path)])
    restarted = ln.fit(small_model(), x, y, epochs=2, verbose=0, seed=1, callbacks=[ln.TensorBoard(tmp_path)])
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert_scalars_equal_history(tmp_path, restarted)  # epoch 3 of the first fit is hidden too

