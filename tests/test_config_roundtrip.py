"""YAML round trips: the custom-layer example and whole models (every registered layer: test_contract.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import layernet as ln
from layernet.config import load_run_config, model_from_yaml, model_to_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # so the `examples` plugin package is importable

import examples.custom_layers  # noqa: E402  (registers Swish and Scale)
from test_contract import LAYER_TABLE  # noqa: E402

#: Constructor arguments and an input shape per layer: the first case of each entry of the
#: contract table (tests/test_contract.py), which round-trips every registered layer through
#: YAML. A newly registered layer with required arguments needs an entry there.
LAYER_CASES: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    name: (cases[0].kwargs, cases[0].input_shape) for name, cases in LAYER_TABLE.items()}


def test_layer_table_covers_every_layer_with_required_arguments() -> None:
    from layernet.config.schema import signature_of
    needing = {name for name, cls in ln.LAYERS.items()
               if any(arg.required for arg in signature_of(cls).arguments.values())}
    assert needing <= set(LAYER_CASES), f"add constructor arguments for {needing - set(LAYER_CASES)}"


def test_whole_model_round_trips_with_name_and_float64() -> None:
    model = ln.Sequential([ln.Flatten(), ln.Dense(8, init="he_normal"), ln.LeakyReLU(0.1), ln.Dropout(0.3),
                           ln.Dense(4), ln.Sigmoid()], input_shape=(2, 3), seed=11, dtype=np.float64,
                          name="net")
    rebuilt = model_from_yaml(model_to_yaml(model))
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt.dtype == np.float64 and rebuilt.name == "net"


def test_unbuilt_model_round_trips_without_input_shape() -> None:
    model = ln.Sequential([ln.Dense(3), ln.Softmax()])
    rebuilt = model_from_yaml(model_to_yaml(model))
    assert "input_shape" not in rebuilt.get_config()
    assert rebuilt.get_config() == model.get_config()


def test_custom_layers_declare_their_plugin_module() -> None:
    model = ln.Sequential([ln.Dense(4), examples.custom_layers.Swish(beta=2.0), examples.custom_layers.Scale()],
                          input_shape=(3,))
    text = model_to_yaml(model)
    assert text.startswith("plugins: [examples.custom_layers]\n")
    assert model_from_yaml(text).get_config() == model.get_config()


def test_custom_example_config_through_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    config = load_run_config(REPO_ROOT / "examples" / "custom.yaml", allow_plugins=True)
    assert config.plugins == ["examples.custom_layers"]
    types = [layer["type"] for layer in config.model["layers"]]
    assert "Swish" in types and "Scale" in types
    model = config.build_model()
    assert isinstance(model.layers[1], examples.custom_layers.Swish)
    assert any(p.name == "scale" for p in model.parameters())
    assert load_run_config(config.to_yaml()) == config
    assert model_from_yaml(model_to_yaml(model)).get_config() == model.get_config()


def test_model_from_yaml_reads_the_model_of_a_run_config() -> None:
    text = (REPO_ROOT / "configs" / "digits-784-10-10.yaml").read_text()
    model = model_from_yaml(text)
    assert model.get_config() == load_run_config(text).build_model().get_config()


def test_model_from_yaml_checks_the_model_section() -> None:
    with pytest.raises(ln.ConfigError, match="unknown layer 'Relu'"):
        model_from_yaml("model: {layers: [Relu]}\n")
    with pytest.raises(ln.ConfigError, match="no 'model' section"):
        model_from_yaml("train: {epochs: 1}\n")


def test_non_plain_layer_config_is_reported() -> None:
    class Odd(ln.Layer):
        def __init__(self, factor: float = 1.0) -> None:
            super().__init__()
            self.factor = object()

    ln.LAYERS.register(Odd, name="OddForRoundTripTest")  # a unique name: harmless to leave registered
    with pytest.raises(ln.ConfigError, match="cannot describe itself"):
        load_run_config("model: {layers: [OddForRoundTripTest]}\n")
