"""The sweep spec (checked like configs, problems at their key path and line), trial configs,
the missing-extra message and the pruning callback with ``ln.fit``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from test_sweep_support import spec_text

import layernet as ln
from layernet.sweeps import PruningCallback, load_sweep_spec

BAD_SPEC = """\
base:
  model:
    input_shape: [784]
    layers: [{type: Dense, units: 16}, ReLU, {type: Dense, units: 10}, Softmax]
  optimizer: {type: Adam, lr: 0.01}
  train: {epochs: 2, validation_split: 0.2}
space:
  optimizer.lr: {loguniform: [0.0, 0.1]}
  model.layers[0].units: {choice: [8, 0]}
  model.layers[9].units: {int: [1, 4]}
  optimizer.lrr: {uniform: [0.1, 0.2]}
  train.batch_size: {gaussian: [1, 2]}
serch: {}
search:
  metric: val_acc
  trails: 3
  sampler: {type: tpe, seed: -1}
"""


def problems_of(source: str | Path) -> list[tuple[str, int | None]]:
    with pytest.raises(ln.ConfigError) as caught:
        load_sweep_spec(source)
    assert "\n" not in str(caught.value)
    return [(problem.path, problem.line) for problem in caught.value.problems]


def test_spec_problems_are_reported_at_their_key_path_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD_SPEC)
    assert problems_of(spec) == [
        ("space['optimizer.lr'].loguniform", 8), ("space['train.batch_size']", 12), ("serch", 13),
        ("search.trails", 16), ("search.sampler.seed", 17)]


def test_values_are_checked_against_the_base_config_at_the_space_key(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD_SPEC.replace("[0.0, 0.1]", "[0.001, 0.1]").replace("  train.batch_size: {gaussian: [1, 2]}\n", "")
                    .replace("serch: {}\n", "").replace("  trails: 3\n", "").replace("seed: -1", "seed: 1"))
    with pytest.raises(ln.ConfigError) as caught:
        load_sweep_spec(spec)
    found = {problem.path: (problem.line, problem.message) for problem in caught.value.problems}
    assert found["space['model.layers[0].units']"][0] == 9
    assert "value 0" in found["space['model.layers[0].units']"][1] and "units" in found["space['model.layers[0].units']"][1]
    assert "the list has 4 entries" in found["space['model.layers[9].units']"][1]
    assert "'lrr'" in found["space['optimizer.lrr']"][1]
    assert found["search.metric"][0] == 13


def test_a_validation_metric_needs_validation_data() -> None:
    text = spec_text().replace(", validation_split: 0.2", "")
    assert problems_of(text) == [("search.metric", 13)]  # not written: at its section


def test_a_base_file_is_read_relative_to_the_spec_and_its_problems_point_into_it(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "base.yaml").write_text("model:\n  input_shape: [784]\n  layers: [{type: Dens}]\n")
    spec = tmp_path / "configs" / "spec.yaml"
    spec.write_text("base: base.yaml\nspace:\n  optimizer.lr: {uniform: [0.001, 0.01]}\n")
    with pytest.raises(ln.ConfigError) as caught:
        load_sweep_spec(spec)
    assert caught.value.source.endswith("base.yaml") and caught.value.line == 3
    spec.write_text("base: missing.yaml\nspace:\n  optimizer.lr: {uniform: [0.001, 0.01]}\n")
    assert problems_of(spec) == [("base", 1)]


def test_a_trial_config_is_the_base_with_set_and_the_sampled_values() -> None:
    spec = load_sweep_spec(spec_text() + "set:\n  train.epochs: 1\n  model.layers[1]: Tanh\n")
    config = spec.trial_config({"optimizer.lr": 0.02, "model.layers[0].units": 8})
    assert config.optimizer["lr"] == 0.02 and config.model["layers"][0]["units"] == 8
    assert config.train.epochs == 1 and config.model["layers"][1] == {"type": "Tanh"}
    assert spec.base.data["optimizer"]["lr"] == 0.01  # the base is left as it was
    with pytest.raises(ln.ConfigError) as caught:
        spec.trial_config({"model.layers[0].units": -3})
    assert "model.layers[0].units (= -3)" in str(caught.value) and "\n" not in str(caught.value)


def test_the_spec_written_into_a_sweep_reads_back_the_same() -> None:
    spec = load_sweep_spec(spec_text(space="  train.batch_size: {int: [32, 128], step: 32}\n"))
    again = load_sweep_spec(spec.to_yaml())
    assert again.to_yaml() == spec.to_yaml() and again.space == spec.space
    assert again.direction == "maximize" and again.pruner.type == "none"


def test_without_the_extra_the_command_says_what_to_install(run_cli, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "spec.yaml").write_text(spec_text())
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    result = run_cli("sweep", "spec.yaml")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "pip install 'layernet[sweep]'" in result.stderr
    assert not (tmp_path / "sweeps").exists()


def test_the_pruning_callback_stops_a_hopeless_fit() -> None:
    optuna = pytest.importorskip("optuna")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20)).astype(np.float32)
    y = (x[:, :5] @ rng.normal(size=(5, 3))).argmax(axis=1)
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    callbacks: list[PruningCallback] = []

    def objective(trial: optuna.trial.Trial) -> float:
        model = ln.Sequential([ln.Dense(16), ln.ReLU(), ln.Dense(3), ln.Softmax()], input_shape=(20,), seed=0)
        pruning = PruningCallback(trial, "val_accuracy")
        callbacks.append(pruning)
        lr = trial.suggest_categorical("lr", [0.01, 1e-7])
        history = ln.fit(model, x, y, lr=lr, epochs=4, validation_split=0.25, callbacks=[pruning], verbose=0)
        pruning.raise_if_pruned()
        return float(history["val_accuracy"][-1])

    study.enqueue_trial({"lr": 0.01})
    study.enqueue_trial({"lr": 1e-7})
    study.optimize(objective, n_trials=2)
    first, second = study.trials
    assert first.state.name == "COMPLETE" and not callbacks[0].pruned
    assert second.state.name == "PRUNED" and callbacks[1].pruned_at == 1
    assert list(second.intermediate_values) == [1]  # training stopped after the rejected epoch


def test_an_unusable_storage_is_one_line_and_leaves_no_sweep_directory(run_cli, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    (tmp_path / "spec.yaml").write_text(spec_text())
    result = run_cli("sweep", "spec.yaml", "--storage", str(tmp_path / "missing" / "journal.log"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "cannot open the Optuna storage" in result.stderr and "missing" in result.stderr
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())


def test_a_base_config_with_plugins_needs_consent(run_cli, tmp_path: Path) -> None:
    text = spec_text().replace("base:\n", "base:\n  plugins: [my_sweep_layers]\n")
    (tmp_path / "spec.yaml").write_text(text)
    result = run_cli("sweep", "spec.yaml")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "spec.yaml:2:" in result.stderr and "--allow-plugins" in result.stderr
    assert "my_sweep_layers" not in sys.modules
