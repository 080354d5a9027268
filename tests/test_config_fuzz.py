"""Property tests (slow suite): a mutated config loads or raises ConfigError, never anything else."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from layernet import ConfigError
from layernet.config import load_run_config

VALID: list[dict[str, Any]] = [
    {"model": {"input_shape": [4], "seed": 1, "layers": [
        {"type": "Dense", "units": 3, "init": {"uniform": {"low": -0.5, "high": 0.5}}}, "ReLU",
        {"repeat": 2, "layers": [{"type": "Dense", "units": 3}, {"type": "Dropout", "rate": 0.1}]},
        {"type": "Dense", "units": 2}, "Softmax"]},
     "loss": "CrossEntropy", "optimizer": {"type": "SGD", "lr": 0.1, "momentum": 0.9},
     "train": {"epochs": 2, "batch_size": "full", "early_stopping": {"patience": 2}},
     "data": {"source": "sample", "limit": 10}},
    {"model": {"input_shape": [2, 3], "dtype": "float64", "layers": [
        "Flatten", {"type": "Reshape", "shape": [3, 2]}, "Flatten", {"type": "LeakyReLU", "alpha": 0.2},
        {"type": "Dense", "units": 1, "use_bias": False}, "Sigmoid"]},
     "loss": {"type": "BinaryCrossEntropy", "from_logits": False},
     "optimizer": {"type": "AdamW", "lr": 0.01, "betas": [0.9, 0.99]},
     "schedule": {"type": "CosineDecay", "epochs": 3, "warmup_epochs": 1},
     "train": {"epochs": 3, "batch_size": 8, "validation_split": 0.2}},
]

#: Names worth inserting: real keys make mutations reach deeper checks.
KEYS = ["type", "units", "rate", "alpha", "shape", "init", "bias_init", "repeat", "layers", "input_shape",
        "dtype", "seed", "lr", "betas", "epochs", "batch_size", "early_stopping", "patience", "source",
        "limit", "plugins", "model", "schedule", "Dense", "uniform", "low", "high", "name"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(KEYS + ["full", "ReLU", "he_uniform", "Adam", "float32"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)), max_leaves=6)


def mutate(node: Any, data: st.DataObject) -> Any:
    """Return ``node`` with one random change somewhere inside it."""
    if isinstance(node, (dict, list)) and node and data.draw(st.integers(0, 3)) > 0:
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        node[key] = mutate(node[key], data)
        return node
    operation = data.draw(st.sampled_from(["delete", "insert", "replace", "swap", "reorder"]))
    if operation == "delete" and node:
        if isinstance(node, dict):
            del node[data.draw(st.sampled_from(list(node)))]
            return node
        if isinstance(node, list):
            del node[data.draw(st.integers(0, len(node) - 1))]
            return node
    if operation == "insert" and isinstance(node, dict):
        node[data.draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)))] = data.draw(VALUES)
        return node
    if operation == "insert" and isinstance(node, list):
        node.insert(data.draw(st.integers(0, len(node))), data.draw(VALUES))
        return node
    if operation == "swap":
        return data.draw(st.sampled_from([str(node), [node], {"type": node}, {"repeat": node, "layers": [node]}]))
    if operation == "reorder" and isinstance(node, (dict, list)) and node:
        items = list(node.items()) if isinstance(node, dict) else list(node)
        order = data.draw(st.permutations(range(len(items))))
        shuffled = [items[i] for i in order]
        return dict(shuffled) if isinstance(node, dict) else shuffled
    return data.draw(VALUES)


#: Deterministic runs: a fixed derandomised example sequence, no example database, no deadline.
FIXED = settings(deadline=None, derandomize=True, database=None)
#: These structural fuzzers run 2,000 examples each in the slow suite (CI runs it); the quick
#: suite fuzzes config text through tests/test_fuzz_readers.py (200 examples).


def check_mutated_config(data: st.DataObject) -> None:
    """A structurally mutated valid config loads (and round-trips) or raises a one-line ConfigError."""
    config = copy.deepcopy(data.draw(st.sampled_from(VALID)))
    for _ in range(data.draw(st.integers(1, 3))):
        config = mutate(config, data)
    text = yaml.safe_dump(config, sort_keys=False)
    try:
        loaded = load_run_config(text)
    except ConfigError as error:
        assert error.problems and "\n" not in str(error)
        return
    assert load_run_config(loaded.to_yaml()) == loaded


def check_mutated_yaml_text(data: st.DataObject) -> None:
    """Valid config text with YAML punctuation spliced in loads or raises ConfigError."""
    text = yaml.safe_dump(data.draw(st.sampled_from(VALID)), sort_keys=False)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        insert = data.draw(st.text(alphabet=":-[]{}&*!|>'\"#%@`,? \t\n\\x0", max_size=3))
        text = text[:at] + insert + text[at + cut:]
    try:
        load_run_config(text)
    except ConfigError:
        pass


@pytest.mark.slow
@settings(FIXED, max_examples=2000)
@given(st.data())
def test_mutated_config_loads_or_raises_config_error_2000_examples(data: st.DataObject) -> None:
    check_mutated_config(data)


@pytest.mark.slow
@settings(FIXED, max_examples=2000)
@given(st.data())
def test_mutated_yaml_text_loads_or_raises_config_error_2000_examples(data: st.DataObject) -> None:
    check_mutated_yaml_text(data)
