"""Malformed configs: each is one ConfigError naming the key path, line and a fix."""

from __future__ import annotations

import textwrap
import tracemalloc
from pathlib import Path

import pytest

from layernet import ConfigError
from layernet.config import RunConfig, load_run_config
from layernet.config.text import MAX_BYTES

# (case id, YAML text, key path, line, a fragment of the hint)
MALFORMED = [
    ("unknown-layer", """
        model:
          layers:
            - {type: Dense2, units: 10}
     """, "model.layers[0].type", 3, "did you mean 'Dense'?"),
    ("units-string", """
        model:
          layers:
            - {type: Dense, units: ten}
     """, "model.layers[0].units", 3, "e.g. units: 10"),
    ("units-float", """
        model:
          layers:
            - ReLU
            - {type: Dense, units: 10.5}
     """, "model.layers[1].units", 4, "e.g. units: 10"),
    ("units-bool", """
        model:
          layers:
            - type: Dense
              units: true
     """, "model.layers[0].units", 4, "e.g. units: 10"),
    ("units-zero", """
        model:
          layers:
            - {type: Dense, units: 0}
     """, "model.layers[0].units", 3, "change units"),
    ("dropout-rate-range", """
        model:
          layers:
            - {type: Dropout, rate: 1.5}
     """, "model.layers[0].rate", 3, "change rate"),
    ("negative-lr", """
        model: {layers: [ReLU]}
        optimizer: {type: SGD, lr: -1}
     """, "optimizer.lr", 2, "change lr"),
    ("unknown-argument", """
        model:
          layers:
            - {type: Dense, unit: 10}
     """, "model.layers[0].unit", 3, "did you mean 'units'?"),
    ("missing-argument", """
        model:
          input_shape: [4]
          layers:
            - Dense
     """, "model.layers[0]", 4, "add units: 10"),
    ("empty-layers", """
        model:
          layers: []
     """, "model.layers", 2, "e.g. layers: [{type: Dense"),
    ("missing-layers", """
        model:
          input_shape: [4]
     """, "model", 2, "add layers:"),
    ("missing-model", """
        train: {epochs: 3}
     """, "", 1, "add model:"),
    ("unknown-section", """
        model: {layers: [ReLU]}
        optimiser: {type: SGD}
     """, "optimiser", 2, "did you mean 'optimizer'?"),
    ("unknown-model-key", """
        model:
          input_shap: [784]
          layers: [ReLU]
     """, "model.input_shap", 2, "did you mean 'input_shape'?"),
    ("shape-needs-flatten", """
        model:
          input_shape: [28, 28]
          layers:
            - {type: Dense, units: 10}
     """, "model.layers[0]", 4, "input_shape and the layers before it"),
    ("shape-in-repeat", """
        model:
          input_shape: [12]
          layers:
            - repeat: 2
              layers:
                - {type: Dense, units: 12}
                - {type: Reshape, shape: [3, 4]}
     """, "model.layers[0].layers[0]", 6, "layers before it"),
    ("unknown-loss", """
        model: {layers: [ReLU]}
        loss: CrossEntropyy
     """, "loss", 2, "did you mean 'CrossEntropy'?"),
    ("unknown-optimizer", """
        model: {layers: [ReLU]}
        optimizer:
          type: Adamm
     """, "optimizer.type", 3, "did you mean 'Adam'?"),
    ("unknown-initializer", """
        model:
          layers:
            - {type: Dense, units: 3, init: he_unifrom}
     """, "model.layers[0].init", 3, "did you mean 'he_uniform'?"),
    ("initializer-range", """
        model:
          layers:
            - type: Dense
              units: 3
              init: {uniform: {low: 0.5, high: -0.5}}
     """, "model.layers[0].init.uniform.high", 5, "change high"),
    ("epochs-zero", """
        model: {layers: [ReLU]}
        train:
          epochs: 0
     """, "train.epochs", 3, "e.g. epochs: 1"),
    ("batch-size-word", """
        model: {layers: [ReLU]}
        train: {batch_size: half}
     """, "train.batch_size", 2, "e.g. batch_size: 32"),
    ("validation-split-range", """
        model: {layers: [ReLU]}
        train: {validation_split: 1.0}
     """, "train.validation_split", 2, "e.g. validation_split: 0.0"),
    ("early-stopping-patience", """
        model: {layers: [ReLU]}
        train:
          early_stopping:
            patience: 0
     """, "train.early_stopping.patience", 4, "e.g. patience: 1"),
    ("normalize-choice", """
        model: {layers: [ReLU]}
        data: {normalize: zscore}
     """, "data.normalize", 2, 'e.g. normalize: "scale"'),
    ("data-limit", """
        model: {layers: [ReLU]}
        data: {limit: 0}
     """, "data.limit", 2, "e.g. limit: 1"),
    ("dtype-choice", """
        model:
          dtype: float16
          layers: [ReLU]
     """, "model.dtype", 2, 'e.g. dtype: "float32"'),
    ("repeat-zero", """
        model:
          layers:
            - {repeat: 0, layers: [ReLU]}
     """, "model.layers[0].repeat", 3, "e.g. repeat: 1"),
    ("repeat-typo", """
        model:
          layers:
            - {repeat: 2, layer: [ReLU]}
     """, "model.layers[0].layer", 3, "did you mean 'layers'?"),
    ("repeat-too-many", """
        model:
          layers:
            - {repeat: 1000000, layers: [ReLU]}
     """, "model.layers[0].repeat", 3, "lower the repeat count"),
    ("layer-is-number", """
        model:
          layers:
            - 5
     """, "model.layers[0]", 3, "e.g. {type: Dense}"),
    ("keras-style-layer", """
        model:
          layers:
            - {Dense: {units: 3}}
     """, "model.layers[0]", 3, "write {type: Dense, ...}"),
    ("unknown-schedule", """
        model: {layers: [ReLU]}
        schedule: {type: Cosine}
     """, "schedule.type", 2, "did you mean 'CosineDecay'?"),
    ("plugins-not-list", """
        plugins: examples.custom_layers
        model: {layers: [ReLU]}
     """, "plugins", 1, "e.g. plugins: [examples.custom_layers]"),
    ("plugin-not-allowed", """
        plugins: [no_such_plugin_module_for_layernet]
        model: {layers: [ReLU]}
     """, "plugins[0]", 1, "allow_plugins=True"),
    ("input-shape-zero", """
        model:
          input_shape: [0]
          layers: [ReLU]
     """, "model.input_shape", 2, "e.g. input_shape: 1"),
    ("seed-negative", """
        model:
          seed: -1
          layers: [ReLU]
     """, "model.seed", 2, "e.g. seed: 0"),
    ("adam-betas", """
        model: {layers: [ReLU]}
        optimizer: {type: Adam, betas: [0.9]}
     """, "optimizer.betas", 2, "change betas"),
    ("optimizer-params", """
        model: {layers: [ReLU]}
        optimizer: {type: SGD, params: 3}
     """, "optimizer.params", 2, "SGD takes lr, momentum"),
    ("yaml-syntax", """
        model:
          layers: [ReLU
        train: {}
     """, "", 3, "check the indentation"),
    ("top-level-list", """
        - model
     """, "", 1, "start with keys"),
    ("duplicate-key", """
        model: {layers: [ReLU]}
        model: {layers: [Tanh]}
     """, "", 2, "write each key once"),
    ("merge-key", """
        base: &base {units: 3}
        model:
          layers:
            - {<<: *base, type: Dense}
     """, "", 4, "write the keys out"),
    ("non-string-key", """
        model:
          1: [ReLU]
     """, "", 2, "keys are words"),
]


def _load(text: str) -> RunConfig:
    return load_run_config(textwrap.dedent(text).strip("\n") + "\n")


@pytest.mark.parametrize("text, path, line, hint", [case[1:] for case in MALFORMED],
                         ids=[case[0] for case in MALFORMED])
def test_malformed_config_is_one_config_error_at_its_key(text: str, path: str, line: int, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(text)
    error = caught.value
    assert (error.path, error.line) == (path, line), str(error)
    assert hint in error.hint, str(error)
    assert error.column is not None and error.column >= 1
    assert "\n" not in str(error)
    assert str(error).startswith(f"<string>:{line}:")


def test_table_has_at_least_25_distinct_cases() -> None:
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED) >= 25


def test_every_problem_is_reported_in_one_pass() -> None:
    text = """
        model:
          layers:
            - {type: Dense, units: ten}
            - {type: Dense2}
        optimizer: {type: SGD, lr: -1}
        train: {epochs: 0}
    """
    with pytest.raises(ConfigError) as caught:
        _load(text)
    paths = [problem.path for problem in caught.value.problems]
    assert paths == ["model.layers[0].units", "model.layers[1].type", "optimizer.lr", "train.epochs"]
    assert [problem.line for problem in caught.value.problems] == [3, 4, 5, 6]
    assert str(caught.value).endswith("[+3 more problems]")


def test_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  layers:\n    - {type: Dense, units: ten}\n")
    with pytest.raises(ConfigError) as caught:
        load_run_config(path)
    assert str(caught.value).startswith(f"{path}:3:28: model.layers[0].units: expected int")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_run_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="config file not found"):
        load_run_config(str(tmp_path / "missing.yaml"))


def test_empty_config_is_refused() -> None:
    for text in ("", "   \n", "# only a comment\n"):
        with pytest.raises(ConfigError, match="the config is empty"):
            load_run_config(text)


# -- safety ------------------------------------------------------------------------------------

PYTHON_TAGS = [
    'model: !!python/object/apply:os.system ["touch PWNED"]\n',
    'model:\n  layers:\n    - !!python/object/apply:os.system ["touch PWNED"]\n',
    '!!python/object/apply:os.system ["touch PWNED"]: 1\nmodel: {layers: [ReLU]}\n',
    'model: {layers: [ReLU]}\ndata: {source: !!python/object/apply:subprocess.call [["touch", "PWNED"]]}\n',
    'model: !!python/name:os.system\n',
]


@pytest.mark.parametrize("text", PYTHON_TAGS)
def test_python_tags_are_refused_and_not_executed(text: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "evil.yaml"
    config.write_text(text)
    for source in (text, config):
        with pytest.raises(ConfigError, match=r"the tag !!python/\S+ is not allowed"):
            load_run_config(source, allow_plugins=True)
    assert not (tmp_path / "PWNED").exists()


def test_unknown_tags_are_refused() -> None:
    for text in ("model: !custom {layers: [ReLU]}\n", "model: {layers: !!set {ReLU}}\n",
                 "model: {layers: [ReLU]}\ndata: {source: !!binary aGVsbG8=}\n"):
        with pytest.raises(ConfigError, match="is not allowed"):
            load_run_config(text)


def test_billion_laughs_is_refused_before_it_expands() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = "\n".join(lines) + "\nmodel: {layers: *a9}\n"
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="expands to more than"):
            load_run_config(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # 9**10 values fully expanded would need many gigabytes


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="expands to more than|nesting"):
        load_run_config("model: &m {layers: [*m]}\n")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ConfigError, match="nesting deeper than"):
        load_run_config("model: " + "[" * 2000 + "]" * 2000 + "\n")


def test_duplicate_keys_are_refused_at_the_second() -> None:
    text = "model:\n  layers: [ReLU]\n  seed: 1\n  seed: 2\n"
    with pytest.raises(ConfigError) as caught:
        load_run_config(text)
    assert (caught.value.line, caught.value.column) == (4, 3)
    assert "duplicate key 'seed' (first written at line 3)" in caught.value.message


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * (MAX_BYTES // 10 + 1) + "model: {layers: [ReLU]}\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_run_config(path)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("model: {layers: [ReLU]}\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_run_config(path)


def test_a_folder_given_as_a_config_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a config file"):
        load_run_config(tmp_path)
