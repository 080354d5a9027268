"""Model files: round trips, the stored layout, atomic writes and damaged or mismatched files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_training_support import FEATURES, blobs, small_model

import layernet as ln
from layernet.archive import FORMAT_VERSION
from layernet.io.models import load_model, save_model


@pytest.fixture
def saved(tmp_path: Path) -> tuple[ln.Sequential, Path]:
    """A small model with non-initial weights, and the file it was saved to."""
    model = small_model(dropout=0.2)
    for p in model.parameters():
        p.value += np.random.default_rng(0).normal(0, 0.1, p.shape).astype(p.value.dtype)
    path = tmp_path / "model.npz"
    save_model(model, path)
    return model, path


def rewrite(path: Path, **changes: Any) -> None:
    """Rewrite the archive at ``path`` with entries replaced (None removes one)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_the_same_predictions(tmp_path: Path, dtype: Any) -> None:
    model = small_model(dropout=0.5, dtype=dtype)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = load_model(path)
    x = blobs().batch(slice(None), dtype)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.get_config() == model.get_config()
    assert np.array_equal(loaded.predict(x), model.predict(x))
    for name, value in model.get_weights().items():
        assert loaded.get_weights()[name].dtype == value.dtype


def test_the_file_is_plain_npz_with_json_config(saved: tuple[ln.Sequential, Path]) -> None:
    model, path = saved
    with np.load(path, allow_pickle=False) as npz:
        assert str(npz["format"]) == "layernet-model"
        assert int(npz["format_version"]) == FORMAT_VERSION
        assert str(npz["layernet_version"]) == ln.__version__
        assert json.loads(str(npz["config"])) == model.get_config()
        weights = {k[len("weights/"):]: npz[k] for k in npz.files if k.startswith("weights/")}
    assert weights.keys() == model.get_weights().keys()


def test_an_unbuilt_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(ln.ModelFileError, match="unbuilt model"):
        save_model(ln.Sequential([ln.Dense(3)]), tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_every_truncation_is_a_model_file_error(saved: tuple[ln.Sequential, Path]) -> None:
    _, path = saved
    data = path.read_bytes()
    for size in sorted({0, 1, 4, 21, 100, len(data) // 2, len(data) - 23, len(data) - 1,
                        *range(0, len(data), max(1, len(data) // 40))}):
        path.write_bytes(data[:size])
        with pytest.raises(ln.ModelFileError, match=str(path)):
            load_model(path)


def test_flipped_bytes_are_caught_or_harmless(saved: tuple[ln.Sequential, Path]) -> None:
    """Any single damaged byte either fails with ModelFileError or (in zip metadata such
    as timestamps) leaves the model intact; no other exception escapes."""
    model, path = saved
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    caught = 0
    for offset in rng.choice(len(data), size=min(len(data), 400), replace=False):
        damaged = bytearray(data)
        damaged[offset] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(damaged))
        try:
            loaded = load_model(path)
        except ln.ModelFileError:
            caught += 1
            continue
        for name, value in model.get_weights().items():
            assert np.array_equal(loaded.get_weights()[name], value), f"offset {offset}"
    assert caught > 300


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable layernet .npz file"),
    (b"layers:\n  - Dense: 10\n", "not a readable layernet .npz file"),
    (b"PK\x03\x04" + b"\0" * 60, "not a readable layernet .npz file"),
])
def test_non_npz_files_are_model_file_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ln.ModelFileError, match=message):
        load_model(path)


def test_a_missing_file_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ln.ModelFileError, match="no such file"):
        load_model(tmp_path / "absent.npz")


def test_an_npz_without_layernet_entries_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "arrays.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(ln.ModelFileError, match="not a layernet file"):
        load_model(path)


@pytest.mark.parametrize("changes, message", [
    ({"config": None}, "entry 'config' is missing"),
    ({"config": np.array("{not json")}, "'config' is not valid JSON"),
    ({"config": np.array(3)}, "'config' should be text"),
    ({"config": np.array("[1, 2]")}, "stored model config is invalid"),
    ({"format": np.array("layernet-checkpoint")}, "layernet-checkpoint file, expected a layernet-model"),
    ({"format_version": np.array(FORMAT_VERSION + 1)}, "newer than this layernet reads"),
    ({"format_version": np.array("1")}, "'format_version' should be an integer"),
    ({"weights/layers.0.weight": None}, r"layers.0.weight: absent in the file, float32\[16, 8\]"),
    ({"weights/layers.9.weight": np.zeros(2, np.float32)}, "layers.9.weight: float32.2. in the file, absent"),
    ({"weights/layers.0.bias": np.zeros(9, np.float32)}, r"layers.0.bias: float32\[9\] in the file"),
    ({"weights/layers.0.bias": np.zeros(8, np.float64)}, r"layers.0.bias: float64\[8\] in the file, float32"),
])
def test_inconsistent_files_say_what_is_wrong(saved: tuple[ln.Sequential, Path],
                                             changes: dict[str, Any], message: str) -> None:
    _, path = saved
    rewrite(path, **changes)
    with pytest.raises(ln.ModelFileError, match=message):
        load_model(path)


def test_an_unregistered_layer_names_the_plugin_to_import(saved: tuple[ln.Sequential, Path]) -> None:
    model, path = saved
    config = model.get_config()
    config["layers"][1] = {"type": "FancyActivation"}
    rewrite(path, config=np.array(json.dumps(config)))
    with pytest.raises(ln.ModelFileError, match="layer 'FancyActivation', which is not registered; "
                                                "import the module that defines it"):
        load_model(path)


def test_a_failing_write_keeps_the_old_file(saved: tuple[ln.Sequential, Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    model, path = saved
    before = path.read_bytes()

    def broken_savez(file: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(ln.ModelFileError, match="cannot write the file .disk full"):
        save_model(small_model(hidden=4), path)
    with pytest.raises(ln.ModelFileError, match="disk full"):
        save_model(model, path.with_name("new.npz"))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_an_unwritable_place_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ln.ModelFileError, match="no_such_folder.*check the folder exists"):
        save_model(small_model(), tmp_path / "no_such_folder" / "m.npz")


def test_saving_over_a_file_replaces_it(saved: tuple[ln.Sequential, Path]) -> None:
    _, path = saved
    other = small_model(hidden=5)
    save_model(other, path)
    assert load_model(path).get_config() == other.get_config()
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_models_with_reshaping_layers_round_trip(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Reshape((4, 4)), ln.Flatten(), ln.Dense(3, init={"uniform": {"low": -1, "high": 1}}),
                           ln.Sigmoid()], input_shape=(FEATURES,), seed=9)
    model.save(tmp_path / "r.npz")
    x = blobs().batch(slice(None))
    assert np.array_equal(load_model(tmp_path / "r.npz").predict(x), model.predict(x))


def test_a_file_rewritten_within_the_sync_interval_skips_the_fsync(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Live run files are rewritten after every (maybe 10 ms) epoch: the disk wait only every few seconds."""
    from layernet import atomic

    synced: list[int] = []
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: synced.append(fd))
    path = tmp_path / "live.json"
    atomic.write_text(path, "1")
    first = len(synced)
    atomic.write_text(path, "2")
    assert first == 2 and len(synced) == first  # file + folder, then nothing within the interval
    atomic.write_text(path, "3", durable=True)
    assert len(synced) == first + 2 and path.read_text() == "3"
    monkeypatch.setattr(atomic.time, "monotonic", lambda: 1e9)  # long after
    atomic.write_text(path, "4")
    assert len(synced) == first + 4 and path.read_text() == "4"
