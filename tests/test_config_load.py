"""Loading run configs: shipped files, defaults, path-or-text, plugins, overrides."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import layernet as ln
from layernet import ConfigError
from layernet.config import RunConfig, load_run_config, validate_config
from layernet.data.settings import DataSettings
from layernet.training.settings import EarlyStopping, TrainSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((REPO_ROOT / "configs").glob("*.yaml"))

SMALL = """
model:
  input_shape: [6]
  layers:
    - {type: Dense, units: 4}
    - ReLU
    - {type: Dense, units: 3}
    - Softmax
"""


def test_configs_folder_has_the_four_reference_networks() -> None:
    assert {path.name for path in SHIPPED} >= {"digits-784-10-10.yaml", "digits-784-10-10-adam.yaml",
                                               "mnist-mlp.yaml", "deep-mlp.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=[path.name for path in SHIPPED])
def test_shipped_config_loads_builds_and_runs(path: Path) -> None:
    config = load_run_config(path)
    model = config.build_model()
    assert model.get_config() == config.model
    out = model.forward(np.zeros((2, *config.model["input_shape"]), np.float32))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    optimizer = config.build_optimizer(model.parameters())
    assert optimizer.lr == config.optimizer["lr"]
    assert isinstance(config.build_loss(), ln.CrossEntropy)
    assert load_run_config(config.to_yaml()) == config


def test_seed_config_is_the_seeds_training() -> None:
    config = load_run_config(REPO_ROOT / "configs" / "digits-784-10-10.yaml")
    assert [layer["type"] for layer in config.model["layers"]] == ["Dense", "ReLU", "Dense", "Softmax"]
    assert config.model["layers"][0]["init"] == {"type": "uniform", "low": -0.5, "high": 0.5}
    assert config.model["layers"][2]["bias_init"] == {"type": "uniform", "low": -0.5, "high": 0.5}
    assert (config.optimizer["type"], config.optimizer["lr"]) == ("SGD", 0.1)
    assert (config.train.epochs, config.train.batch_size) == (500, "full")
    assert config.data.source == "sample"
    weights = config.build_model().layers[0].parameters()[0].value
    assert -0.5 <= weights.min() < -0.45 and 0.45 < weights.max() < 0.5


def test_deep_config_expands_its_repeat_block() -> None:
    config = load_run_config(REPO_ROOT / "configs" / "deep-mlp.yaml")
    dense = [layer for layer in config.model["layers"] if layer["type"] == "Dense"]
    assert len(dense) == 21 and all(layer["units"] == 64 for layer in dense[:-1])


def test_left_out_sections_get_their_defaults() -> None:
    config = load_run_config(SMALL)
    assert config.loss == {"type": "CrossEntropy", "from_logits": False}
    assert config.optimizer["type"] == "Adam" and config.optimizer["lr"] == 0.001
    assert config.schedule is None and config.build_schedule() is None
    assert (config.train, config.data, config.plugins) == (TrainSettings(), DataSettings(), [])
    assert config.model["dtype"] == "float32" and config.model["seed"] == 0


def test_full_sections_are_read() -> None:
    config = load_run_config(SMALL + """
loss: {type: CrossEntropy, from_logits: false}
optimizer: {type: AdamW, lr: 3e-4, betas: [0.8, 0.99]}
schedule: {type: StepDecay, step_size: 2}
train:
  epochs: 3
  batch_size: 16
  validation_split: 0
  early_stopping: {patience: 2, monitor: loss}
data: {source: mnist, normalize: standardize, limit: 100}
""")
    assert config.optimizer == {"type": "AdamW", "lr": 3e-4, "betas": [0.8, 0.99], "eps": 1e-8,
                                "weight_decay": 0.01, "amsgrad": False}
    schedule = config.build_schedule()
    assert schedule is not None and schedule(2, 1.0) == pytest.approx(0.1)
    assert config.train == TrainSettings(epochs=3, batch_size=16, early_stopping=EarlyStopping(monitor="loss", patience=2))
    assert isinstance(config.train.validation_split, float)
    assert config.data == DataSettings(source="mnist", normalize="standardize", limit=100)


def test_bare_and_mapping_forms_resolve_identically() -> None:
    bare = load_run_config("model: {layers: [ReLU]}\nloss: MSE\noptimizer: SGD\n")
    full = load_run_config("model: {layers: [{type: ReLU}]}\nloss: {type: MSE}\noptimizer: {type: SGD}\n")
    assert bare == full


def test_yaml_scalars_are_plain_types() -> None:
    config = load_run_config("model: {layers: [ReLU]}\nloss: MSE\noptimizer: {type: SGD, lr: 1e-2}\n"
                             "data: {source: 2024-01-01}\n")
    assert config.optimizer["lr"] == 0.01
    assert config.data.source == "2024-01-01"


def test_path_object_str_path_and_text_are_all_accepted(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(SMALL)
    from_path, from_str, from_text = load_run_config(path), load_run_config(str(path)), load_run_config(SMALL)
    assert from_path == from_str == from_text
    assert from_path.source == str(path) and from_text.source == "<string>"
    assert load_run_config("model: {layers: [ReLU]}\nloss: MSE").model["layers"] == [{"type": "ReLU"}]


def test_validate_config_is_load_run_config() -> None:
    assert validate_config(SMALL) == load_run_config(SMALL)


def test_to_yaml_round_trips_every_section() -> None:
    config = load_run_config(SMALL + "schedule: CosineDecay\ntrain: {early_stopping: {}, validation_split: 0.1, seed: 3}\n")
    text = config.to_yaml()
    assert load_run_config(text) == config
    assert config.to_dict()["train"]["early_stopping"] == {"monitor": "val_loss", "patience": 3,
                                                          "min_delta": 0.0, "restore_best": True}


# -- overrides ------------------------------------------------------------------------------------

def test_overrides_replace_values_and_keep_the_rest() -> None:
    config = load_run_config(SMALL)
    changed = config.with_overrides(epochs=7, batch_size="full", lr=0.5, seed=4, data_source="mnist")
    assert (changed.train.epochs, changed.train.batch_size) == (7, "full")
    assert (changed.optimizer["lr"], changed.model["seed"], changed.data.source) == (0.5, 4, "mnist")
    assert changed.model["layers"] == config.model["layers"]
    assert config.train.epochs == 10  # the original is untouched
    assert config.with_overrides(batch_size="64").train.batch_size == 64
    assert config.with_overrides() == config


def test_seed_override_reaches_an_explicit_train_seed() -> None:
    config = load_run_config(SMALL + "train: {seed: 1}\n")
    assert config.with_overrides(seed=9).train.seed == 9
    assert load_run_config(SMALL).with_overrides(seed=9).train.seed is None


@pytest.mark.parametrize("kwargs, flag", [({"epochs": 0}, "--epochs"), ({"batch_size": "half"}, "--batch-size"),
                                          ({"lr": -1.0}, "--lr"), ({"seed": -2}, "--seed"),
                                          ({"epochs": 2.5}, "--epochs")])
def test_bad_override_names_the_flag(kwargs: dict[str, object], flag: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_run_config(SMALL).with_overrides(**kwargs)  # type: ignore[arg-type]
    assert caught.value.path == flag


# -- plugins ----------------------------------------------------------------------------------------

@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A fresh importable module that leaves a marker file when imported."""
    name = f"layernet_test_plugin_{uuid.uuid4().hex}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, marker
    sys.modules.pop(name, None)


def test_plugins_are_imported_only_when_allowed(plugin_module: tuple[str, Path]) -> None:
    name, marker = plugin_module
    text = f"plugins: [{name}]\n" + SMALL
    with pytest.raises(ConfigError) as caught:
        load_run_config(text)
    assert caught.value.path == "plugins[0]" and "allow_plugins=True" in caught.value.hint
    assert not marker.exists()
    assert load_run_config(text, allow_plugins=True).plugins == [name]
    assert marker.exists()
    assert load_run_config(text).plugins == [name]  # already imported: nothing new runs


def test_plugin_that_fails_to_import_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"layernet_broken_plugin_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="cannot import plugin .*RuntimeError: boom") as caught:
        load_run_config(f"plugins: [{name}]\n" + SMALL, allow_plugins=True)
    assert caught.value.line == 1
    with pytest.raises(ConfigError, match="cannot import plugin"):
        load_run_config("plugins: [no_such_module_for_layernet_tests]\n" + SMALL, allow_plugins=True)


def test_run_config_is_a_plain_dataclass() -> None:
    config = load_run_config(SMALL)
    assert isinstance(config, RunConfig)
    other = RunConfig(model=config.model, loss=config.loss, optimizer=config.optimizer)
    assert other == config
