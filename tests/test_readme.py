"""The README's YAML example is a valid run config (its code blocks run in tests/test_docs_run.py)."""

from __future__ import annotations

import re
from pathlib import Path

import layernet as ln

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def blocks(language: str) -> list[str]:
    """The fenced code blocks of ``language`` in the README."""
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_yaml_example_is_a_valid_run_config() -> None:
    (example,) = blocks("yaml")
    config = ln.load_run_config(example)
    model = config.build_model()
    assert [type(layer).__name__ for layer in model] == [
        "Dense", "ReLU", "Dense", "ReLU", "Dense", "ReLU", "Dense", "Softmax"]
    assert config.schedule is not None and config.train.validation_split == 0.1

