"""Trust, part 1: no command imports a module a config, run directory or model file names
without --allow-plugins on its command line (docs/trust.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import layernet as ln
from trust_support import layernet, write_config, write_plugin

CONSENT = "pass --allow-plugins to import"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A plugin next to its config, a run trained from it with consent (from another folder),
    and a test CSV; the marker removed afterwards."""
    root = tmp_path_factory.mktemp("trust")
    marker = root / "marker"
    folder = root / "project"
    write_plugin(folder, "evilplug_cli", marker)
    config = write_config(folder, "evilplug_cli")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    run = root / "run"
    result = layernet("train", config, "--out", run, "--allow-plugins", "--no-plots", "--quiet",
                      cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert marker.exists()  # found next to the config, not on sys.path or in the cwd
    inputs = root / "inputs.npz"
    np.savez(inputs, x=np.zeros((3, 784), np.float32))
    return {"root": root, "marker": marker, "config": config, "run": run, "inputs": inputs,
            "elsewhere": elsewhere}


def _commands(s: dict[str, Path]) -> dict[str, list[str | Path]]:
    out = s["root"] / "out"
    out.mkdir(exist_ok=True)
    return {
        "validate": ["validate", s["config"]],
        "summary-config": ["summary", s["config"]],
        "summary-run": ["summary", s["run"]],
        "gradcheck": ["gradcheck", s["config"], "--max-entries", "5"],
        "train": ["train", s["config"], "--out", out / "new", "--no-plots", "--quiet"],
        "resume": ["train", "--resume", s["run"], "--epochs", "2", "--no-plots", "--quiet"],
        "evaluate": ["evaluate", s["run"]],
        "predict": ["predict", s["run"], s["inputs"], "--out", out / "p.csv"],
        "plot": ["plot", s["run"]],
        "export": ["export", s["run"], "--onnx", out / "m.onnx"],
    }


CASES = ("validate", "summary-config", "summary-run", "gradcheck", "train", "resume", "evaluate",
         "predict", "plot", "export")


@pytest.mark.slow  # a real-process run; CI runs it, the quick suite does not
@pytest.mark.parametrize("case", CASES)
def test_no_command_imports_a_plugin_without_consent(setup: dict[str, Path], case: str) -> None:
    setup["marker"].unlink(missing_ok=True)
    result = layernet(*_commands(setup)[case], cwd=setup["elsewhere"])
    assert result.returncode == 2, result.stdout + result.stderr
    assert not setup["marker"].exists()
    last = result.stderr.strip().splitlines()[-1]
    assert "evilplug_cli" in last and CONSENT in last and "this runs their code" in last
    if case != "validate":  # validate also lists what it checked; the others say one line
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow  # a real-process run; CI runs it, the quick suite does not
@pytest.mark.parametrize("case", ("validate", "summary-config", "summary-run", "gradcheck", "evaluate",
                                  "predict"))
def test_every_command_works_with_consent(setup: dict[str, Path], case: str) -> None:
    setup["marker"].unlink(missing_ok=True)
    result = layernet(*_commands(setup)[case], "--allow-plugins", cwd=setup["elsewhere"])
    assert result.returncode == 0, result.stderr
    assert setup["marker"].exists()


def test_validate_without_consent_checks_the_rest(setup: dict[str, Path]) -> None:
    config = setup["root"] / "project" / "broken.yaml"
    config.write_text(setup["config"].read_text().replace("units: 10", "units: -3")
                      .replace("epochs: 1", "epochs: 1, bogus: 2"))
    setup["marker"].unlink(missing_ok=True)
    result = layernet("validate", config, cwd=setup["elsewhere"])
    assert result.returncode == 2
    assert not setup["marker"].exists()
    assert "plugins evilplug_cli" in result.stdout
    assert "'EvilLayer' is not built in; it belongs to the plugins (evilplug_cli)" in result.stdout
    assert "units" in result.stderr and "bogus" in result.stderr
    assert CONSENT in result.stderr.strip().splitlines()[-1]


def test_resume_and_export_with_consent(setup: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "copy"
    shutil.copytree(setup["run"], run)
    result = layernet("train", "--resume", run, "--epochs", "2", "--no-plots", "--quiet",
                      "--allow-plugins", cwd=setup["elsewhere"])
    assert result.returncode == 0, result.stderr


def test_api_never_imports(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    write_plugin(tmp_path, "evilplug_api", marker, layer="EvilApiLayer")
    config = write_config(tmp_path, "evilplug_api", layer="EvilApiLayer")
    for load in (ln.load_run_config, ln.model_from_yaml, ln.validate_config):
        with pytest.raises(ln.ConfigError, match="allow_plugins=True"):
            load(config)
    assert not marker.exists()


def test_model_file_naming_an_unregistered_layer_imports_nothing(setup: dict[str, Path]) -> None:
    setup["marker"].unlink(missing_ok=True)
    with pytest.raises(ln.ModelFileError, match="'EvilLayer', which is not registered; import"):
        ln.load_model(setup["run"] / "model.npz")
    result = layernet("summary", setup["run"] / "model.npz", cwd=setup["elsewhere"])
    assert result.returncode == 2 and "import the module" in result.stderr
    assert not setup["marker"].exists()


def test_an_imported_module_needs_no_consent(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("plugins: [json]\nmodel: {input_shape: [4], layers: [{type: Dense, units: 2}, Softmax]}\n")
    assert ln.load_run_config(config).plugins == ["json"]
    assert layernet("validate", config, cwd=tmp_path).returncode == 0
