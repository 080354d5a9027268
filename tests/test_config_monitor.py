"""Settings that could only fail after the first epoch are refused when the config is read."""

from __future__ import annotations

import json
import math

import pytest

from layernet.cli.rundir import standard_json
from layernet.config import load_run_config
from layernet.errors import ConfigError

BASE = """\
model:
  input_shape: [784]
  layers: [{type: Dense, units: 10}, Softmax]
train:
  epochs: 2
  validation_split: SPLIT
  early_stopping: {monitor: MONITOR}
"""


@pytest.mark.parametrize("monitor, split, message, hint", [
    ("val_los", 0.1, "early stopping cannot monitor 'val_los': no epoch reports it", "did you mean 'val_loss'?"),
    ("f1", 0.1, "early stopping cannot monitor 'f1'", "history columns are"),
    ("val_loss", 0.0, "monitors 'val_loss', which needs validation data", "set train.validation_split"),
    ("val_accuracy", 0.0, "monitors 'val_accuracy', which needs validation data", "or monitor 'loss'"),
])
def test_a_monitor_no_epoch_reports_is_a_located_config_error(monitor: str, split: float, message: str,
                                                               hint: str) -> None:
    text = BASE.replace("SPLIT", str(split)).replace("MONITOR", monitor)
    with pytest.raises(ConfigError) as caught:
        load_run_config(text)
    error = caught.value
    assert (error.path, error.line) == ("train.early_stopping.monitor", 7)
    assert message in error.message and hint in error.hint


@pytest.mark.parametrize("monitor, split", [("val_loss", 0.1), ("loss", 0.0), ("accuracy", 0.0)])
def test_monitors_that_epochs_report_are_accepted(monitor: str, split: float) -> None:
    config = load_run_config(BASE.replace("SPLIT", str(split)).replace("MONITOR", monitor))
    assert config.train.early_stopping is not None and config.train.early_stopping.monitor == monitor


def test_run_files_and_json_output_are_standard_json() -> None:
    text = standard_json({"loss": math.nan, "rows": [1.0, math.inf, -math.inf], "ok": 0.5}, indent=2)
    assert json.loads(text) == {"loss": None, "rows": [1.0, None, None], "ok": 0.5}
    assert "NaN" not in text and "Infinity" not in text
