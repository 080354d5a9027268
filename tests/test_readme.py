"""The README's examples are true: its Python blocks run and its YAML example loads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import layernet as ln

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def blocks(language: str) -> list[str]:
    """The fenced code blocks of ``language`` in the README."""
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_python_example_runs(index: int, tmp_path: Path) -> None:
    code = blocks("python")[index]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr


def test_yaml_example_is_a_valid_run_config() -> None:
    (example,) = blocks("yaml")
    config = ln.load_run_config(example)
    model = config.build_model()
    assert [type(layer).__name__ for layer in model] == [
        "Dense", "ReLU", "Dense", "ReLU", "Dense", "ReLU", "Dense", "Softmax"]
    assert config.schedule is not None and config.train.validation_split == 0.1

