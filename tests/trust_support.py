"""Helpers of the tests/test_trust_*.py files: a plugin module that leaves a marker, runs of the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLUGIN = '''
import pathlib
import layernet as ln

pathlib.Path({marker!r}).write_text("imported")


@ln.register_layer
class {layer}(ln.Layer):
    def forward(self, x, *, training=False):
        return x

    def backward(self, dY):
        return dY
'''

CONFIG = '''
plugins: [{module}]
model:
  input_shape: [784]
  layers:
    - {{type: Dense, units: 10}}
    - {layer}
    - Softmax
train: {{epochs: {epochs}, batch_size: 50}}
data: {{source: sample, limit: 200}}
'''

TINY = '''
model:
  input_shape: [784]
  layers: [{type: Dense, units: 10}, Softmax]
train: {epochs: %d, batch_size: 20}
data: {source: sample, limit: 200}
'''


def write_plugin(folder: Path, module: str, marker: Path, layer: str = "EvilLayer") -> Path:
    """``folder/module.py``, whose import writes ``marker`` and registers ``layer``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}.py"
    path.write_text(PLUGIN.format(marker=str(marker), layer=layer))
    return path


def write_config(folder: Path, module: str, layer: str = "EvilLayer", epochs: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(module=module, layer=layer, epochs=epochs))
    return path


def write_tiny(folder: Path, epochs: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(TINY % epochs)
    return path


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "layernet", *map(str, args)]


def layernet(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m layernet ARGS`` in ``cwd`` (this checkout's layernet)."""
    return subprocess.run(command(*args), capture_output=True, text=True, cwd=cwd, env=env(), timeout=300)


def popen(*args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd, env=env())
