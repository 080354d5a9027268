"""``--set KEY=VALUE`` overrides: any key, YAML values, errors that name the override."""

from __future__ import annotations

from pathlib import Path

import pytest

import layernet as ln
from layernet.config.run import parse_key_path

from conftest import RunCli

REPO = Path(__file__).resolve().parent.parent
ADAM = REPO / "configs" / "digits-784-10-10-adam.yaml"


def test_overrides_set_any_key_with_yaml_values() -> None:
    config = ln.load_run_config(ADAM, overrides=["optimizer.lr=0.01", "model.layers[0].units=32",
                                                 "schedule={type: StepDecay, step_size: 2}",
                                                 "train.batch_size=full"])
    assert config.optimizer["lr"] == 0.01 and config.model["layers"][0]["units"] == 32
    assert config.schedule is not None and config.schedule["step_size"] == 2
    assert config.train.batch_size == "full"


@pytest.mark.parametrize("assignment, message", [
    ("model.layers[0].units=0", "--set model.layers[0].units: Dense: units must be an integer >= 1"),
    ("optimizer.lr=fast", "--set optimizer.lr: expected float"),
    ("model.layers[7].units=3", "--set model.layers[7].units: cannot set it: the list has 4 entries"),
    ("optimizer.lr", "--set: expected KEY=VALUE"),
    ("train.epohcs=3", "--set train.epohcs"),
    ("loss=MSE\nx: 1", "the value of --set loss spans several lines"),  # would have set a second key
])
def test_a_bad_override_is_named_in_the_error(assignment: str, message: str) -> None:
    with pytest.raises(ln.ConfigError) as caught:
        ln.load_run_config(ADAM, overrides=[assignment])
    assert message in str(caught.value)
    assert caught.value.line is None  # the value did not come from the file


def test_key_paths_parse() -> None:
    assert parse_key_path("model.layers[0].units") == ("model", "layers", 0, "units")
    assert parse_key_path("[0]") is None and parse_key_path("a..b") is None


def test_cli_set_is_stored_in_the_run_config_and_print_config_exits(run_cli: RunCli, tmp_path: Path) -> None:
    printed = run_cli("train", ADAM, "--set", "model.layers[0].units=16", "--print-config")
    assert printed.returncode == 0 and "units: 16" in printed.stdout and not (tmp_path / "runs").exists()
    result = run_cli("train", ADAM, "--set", "model.layers[0].units=16", "--set", "data.limit=300",
                     "--epochs", "1", "--out", tmp_path / "run", "--no-plots", "--quiet")
    assert result.returncode == 0, result.stderr
    stored = ln.load_run_config(tmp_path / "run" / "config.yaml")
    assert stored.model["layers"][0]["units"] == 16 and stored.data.limit == 300
    resumed = run_cli("train", "--resume", tmp_path / "run", "--epochs", "2", "--no-plots", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert ln.load_run_config(tmp_path / "run" / "config.yaml").train.epochs == 2


def test_cli_bad_override_is_one_line_naming_it(run_cli: RunCli) -> None:
    result = run_cli("train", ADAM, "--set", "model.layers[0].units=-1")
    assert result.returncode == 2 and "--set model.layers[0].units" in result.stderr
    assert result.stderr.count("\n") == 1


BARE = "model: {input_shape: [4], layers: [{type: Dense, units: 3}, ReLU, {type: Dense, units: 2}, Softmax]}\n"


def test_an_override_inside_a_left_out_section_changes_its_default() -> None:
    config = ln.load_run_config(BARE, overrides=["optimizer.lr=0.01", "optimizer.betas=[0.8, 0.9]"])
    assert config.optimizer["type"] == "Adam" and config.optimizer["lr"] == 0.01
    assert list(config.optimizer["betas"]) == [0.8, 0.9]
    logits = ln.load_run_config(BARE.replace(", Softmax]", "]"), overrides=["loss.from_logits=true"])
    assert logits.loss == {"type": "CrossEntropy", "from_logits": True}


def test_an_override_inside_a_class_written_by_name_keeps_the_class() -> None:
    config = ln.load_run_config(BARE.replace("ReLU", "LeakyReLU"), overrides=["model.layers[1].alpha=0.2"])
    assert config.model["layers"][1] == {**config.model["layers"][1], "type": "LeakyReLU", "alpha": 0.2}
    with pytest.raises(ln.ConfigError, match=r"--set model.layers\[1\].alpha: ReLU has no argument .alpha."):
        ln.load_run_config(BARE, overrides=["model.layers[1].alpha=0.2"])


def test_an_override_creating_a_section_is_blamed_not_the_file() -> None:
    with pytest.raises(ln.ConfigError) as caught:
        ln.load_run_config(ADAM, overrides=["schedule.epochs=5"])
    assert caught.value.path == "--set schedule.epochs" and caught.value.line is None
    assert "needs 'type'" in caught.value.message
