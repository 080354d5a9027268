"""ONNX export: every built-in layer, the shipped configs, custom layers and the CLI, checked in
ONNX Runtime against ``model.predict`` on the embedded sample's 2,000 test digits."""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from conftest import ADAM_CONFIG, REPO_ROOT, RunCli

import layernet as ln
from layernet.cli import commands, export_command
from layernet.errors import ExportError
from layernet.export import export_onnx, onnx_model
from layernet.export.onnx import DEFAULT_OPSET, MIN_OPSET, require_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

pytestmark = pytest.mark.onnx

sys.path.insert(0, str(REPO_ROOT))
custom = importlib.import_module("examples.custom_layers")

PIXELS = {"shift": 0.0, "scale": 1 / 255}
#: Probabilities may differ from layernet's by float32 rounding only.
TOLERANCE = 1e-5


@cache
def sample() -> ln.DataSplits:
    return ln.load_sample()


@dataclass(frozen=True)
class Agreement:
    """How an exported model's outputs compare with layernet's on the same raw inputs."""

    max_difference: float
    same_class: int
    total: int


def run_onnx(path: Path, raw: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": raw})
    result: npt.NDArray[np.float32] = output
    return result


def expected(model: ln.Sequential, raw: npt.NDArray[Any], preprocessing: dict[str, float] | None) -> Any:
    """What ``layernet predict`` computes: ``(x − shift) · scale`` in the model dtype, then predict."""
    pre = preprocessing or {"shift": 0.0, "scale": 1.0}
    return model.predict(ln.Dataset(raw, None, scale=pre["scale"], shift=pre["shift"]).batch(
        slice(None), model.dtype))


def agreement(model: ln.Sequential, path: Path, raw: npt.NDArray[Any],
              preprocessing: dict[str, float] | None, label: str) -> Agreement:
    """Check the file, run it on ``raw`` and compare with layernet; asserts the issue's bar."""
    onnx.checker.check_model(str(path), full_check=True)
    got = run_onnx(path, raw)
    want = expected(model, raw, preprocessing)
    assert got.dtype == np.float32 and got.shape == want.shape
    result = Agreement(float(np.abs(got - want).max()),
                       int(np.sum(got.argmax(axis=1) == want.argmax(axis=1))), len(raw))
    print(f"\n{label}: max |onnx - layernet| = {result.max_difference:.2e}, "
          f"same class {result.same_class}/{result.total}")
    assert result.same_class == result.total, result
    assert result.max_difference <= TOLERANCE, result
    return result


def digits(shape: tuple[int, ...], dtype: Any = np.uint8) -> npt.NDArray[Any]:
    """The sample's 2,000 test digits shaped ``(2000, *shape)``."""
    test = sample().test
    assert test is not None
    return test.x.reshape(-1, *shape).astype(dtype)


def train_briefly(model: ln.Sequential, steps: int = 4, batch: int = 64, loss: Any = "CrossEntropy") -> None:
    """A few Adam steps on sample digits (uint8, scaled by 1/255), so BatchNorm statistics move."""
    assert model.input_shape is not None
    n = steps * batch
    train = sample().train
    assert train.y is not None
    x = train.x[:n].reshape(n, *model.input_shape)
    ln.fit(model, x, train.y[:n], loss=loss, optimizer="Adam", lr=0.003, epochs=1,
           batch_size=batch)


# -- every built-in layer and option ------------------------------------------------------------
def dense_stack() -> ln.Sequential:
    """Flatten, Dense (with and without bias), BatchNorm on features, every activation, Dropout."""
    return ln.Sequential([ln.Flatten(), ln.Dense(48), ln.BatchNorm(momentum=0.3), ln.LeakyReLU(0.2),
                          ln.Dropout(0.3), ln.Dense(32, use_bias=False), ln.Tanh(), ln.Dense(16),
                          ln.Sigmoid(), ln.ReLU(), ln.Dense(10), ln.Softmax()], input_shape=(28, 28))


def conv2d_stack() -> ln.Sequential:
    """Conv2D padding same (odd and even kernels, dilated), valid, int and pair, strides, dilation,
    no bias; BatchNorm on images; pools with padding; GlobalAvgPool2D."""
    return ln.Sequential([
        ln.Conv2D(6, 3, padding="same"), ln.BatchNorm(momentum=0.3), ln.ReLU(),
        ln.MaxPool2D(3, stride=2, padding=1),                                  # (6, 14, 14)
        ln.Conv2D(8, [2, 3], stride=[1, 2], dilation=[2, 1], padding=[1, 0], use_bias=False),
        ln.AvgPool2D(2, padding=1),                                            # (8, 7, 4)
        ln.LeakyReLU(0.1),
        ln.Conv2D(8, 4, padding="same", dilation=2), ln.BatchNorm(), ln.Tanh(),  # even kernel, same
        ln.Conv2D(12, 3, padding="valid", stride=[2, 1]),                      # (12, 3, 2)
        ln.MaxPool2D([2, 1], stride=1, padding=[1, 0]),                        # (12, 4, 2)
        ln.Conv2D(16, 2, padding=1), ln.Sigmoid(),                             # (16, 5, 3)
        ln.AvgPool2D(3, stride=2, padding=1),                                  # (16, 3, 2)
        ln.GlobalAvgPool2D(), ln.Dropout(0.2), ln.Dense(10), ln.Softmax()], input_shape=(1, 28, 28))


def conv1d_stack() -> ln.Sequential:
    """Reshape, Conv1D (same, strided, dilated, no bias), BatchNorm on sequences, pools after a Reshape."""
    return ln.Sequential([
        ln.Reshape([28, 28]),
        ln.Conv1D(8, 5, padding="same"), ln.ReLU(),                            # (8, 28)
        ln.Conv1D(8, 3, stride=2, dilation=2, padding=2, use_bias=False),      # (8, 14)
        ln.BatchNorm(momentum=0.3), ln.Tanh(),
        ln.Conv1D(6, 4, padding="same"), ln.Conv1D(6, 3, padding="valid"),    # (6, 12)
        ln.Reshape([6, 2, 6]), ln.MaxPool2D(2, padding=1), ln.AvgPool2D([1, 3], stride=1, padding=[0, 1]),
        ln.Flatten(), ln.Dense(10), ln.Softmax()], input_shape=(784,))


def logits_net() -> ln.Sequential:
    """A model ending in Dense: the output is logits, named "output"."""
    return ln.Sequential([ln.Dense(24), ln.ReLU(), ln.Dense(10)], input_shape=(784,))


STACKS = {"dense": dense_stack, "conv2d": conv2d_stack, "conv1d": conv1d_stack}


def test_the_stacks_cover_every_registered_built_in_layer() -> None:
    used = {type(layer).__name__ for build in STACKS.values() for layer in build().layers}
    built_in = {name for name, cls in ln.LAYERS.items() if cls.__module__.startswith("layernet.")}
    assert built_in <= used, built_in - used


@pytest.mark.parametrize("name", STACKS)
def test_every_built_in_layer_matches_layernet(name: str, tmp_path: Path) -> None:
    model = STACKS[name]()
    train_briefly(model)
    for layer in model.layers:
        if isinstance(layer, ln.BatchNorm):
            assert not np.allclose(layer.running_mean, 0) and not np.allclose(layer.running_var, 1)
    path = export_onnx(model, tmp_path / "model.onnx", preprocessing=PIXELS)
    assert model.input_shape is not None
    agreement(model, path, digits(model.input_shape), PIXELS, name)


def test_the_graph_has_a_dynamic_batch_and_documented_names(tmp_path: Path) -> None:
    model = conv2d_stack()
    path = export_onnx(model, tmp_path / "m.onnx", preprocessing=PIXELS)
    proto = onnx.load(str(path))
    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    assert graph_input.name == "input" and graph_output.name == "probabilities"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert graph_output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert dims == ["batch", 1, 28, 28]
    assert [n.op_type for n in proto.graph.node][:2] == ["Cast", "Mul"]      # shift 0: no Sub
    assert {o.domain: o.version for o in proto.opset_import} == {"": DEFAULT_OPSET}
    assert proto.producer_name == "layernet"
    props = {p.key: p.value for p in proto.metadata_props}
    assert "layernet.preprocessing" in props
    for batch in (1, 7):      # any batch size, including one image
        raw = digits((1, 28, 28))[:batch]
        np.testing.assert_allclose(run_onnx(path, raw), expected(model, raw, PIXELS), atol=TOLERANCE)


@pytest.mark.parametrize("opset", [MIN_OPSET, DEFAULT_OPSET, 18, 21])
def test_other_opsets(opset: int, tmp_path: Path) -> None:
    model = conv1d_stack()
    path = export_onnx(model, tmp_path / "m.onnx", preprocessing=PIXELS, opset=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset
    agreement(model, path, digits((784,))[:200], PIXELS, f"conv1d, opset {opset}")


def test_standardized_float_inputs_and_logits(tmp_path: Path) -> None:
    """Preprocessing that is not pixels / 255: a float32 input, Sub and Mul; a logits output."""
    model = logits_net()
    train_briefly(model, loss={"type": "CrossEntropy", "from_logits": True})
    standardize = {"shift": 33.3, "scale": 1 / 78.6}
    path = export_onnx(model, tmp_path / "m.onnx", preprocessing=standardize)
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].name == "output"
    assert [n.op_type for n in proto.graph.node][:2] == ["Sub", "Mul"]
    agreement(model, path, digits((784,), np.float32), standardize, "logits, standardized float input")


def test_input_dtype_overrides_the_default(tmp_path: Path) -> None:
    model = dense_stack()
    path = export_onnx(model, tmp_path / "m.onnx", preprocessing=PIXELS, input_dtype="float32")
    agreement(model, path, digits((28, 28), np.float32), PIXELS, "dense, float32 pixels")
    bare = export_onnx(model, tmp_path / "bare.onnx")          # no preprocessing: no Cast, Sub, Mul
    assert onnx.load(str(bare)).graph.node[0].op_type == "Flatten"
    scaled = digits((28, 28), np.float32) / np.float32(255)
    agreement(model, bare, scaled, None, "dense, no preprocessing")


def test_a_float64_model_is_exported_in_float32(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Dense(32), ln.BatchNorm(), ln.Tanh(), ln.Dense(10), ln.Softmax()],
                          input_shape=(784,), dtype=np.float64)
    train_briefly(model)
    path = export_onnx(model, tmp_path / "m.onnx", preprocessing=PIXELS)
    agreement(model, path, digits((784,)), PIXELS, "float64 model")


# -- the shipped configs ------------------------------------------------------------------------
CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_each_shipped_config_exports(config: Path, tmp_path: Path) -> None:
    run = ln.load_run_config(config)
    model = run.build_model()
    train_briefly(model, steps=3, loss=run.build_loss())
    path = export_onnx(model, tmp_path / f"{config.stem}.onnx", preprocessing=PIXELS)
    assert model.input_shape is not None
    agreement(model, path, digits(model.input_shape)[:500], PIXELS, config.name)  # all 10,000: slow variant


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_each_shipped_config_on_the_10000_mnist_test_images(config: Path, tmp_path: Path,
                                                            mnist_dir: Path) -> None:
    run = ln.load_run_config(config)
    model = run.build_model()
    train_briefly(model, steps=3, loss=run.build_loss())
    path = export_onnx(model, tmp_path / f"{config.stem}.onnx", preprocessing=PIXELS)
    test = ln.data.load_mnist_dir(mnist_dir).test
    assert model.input_shape is not None and test is not None and len(test) == 10_000
    agreement(model, path, test.x.reshape(-1, *model.input_shape), PIXELS, f"{config.name} (10,000)")


# -- custom layers ----------------------------------------------------------------------------------
def test_custom_layers_with_the_hook_export(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Dense(32), custom.Swish(), custom.Scale(init={"type": "uniform", "low": 0.5,
                                                                          "high": 1.5}),
                           ln.Dense(16), custom.Swish(beta=2.5), ln.Dense(10), ln.Softmax()],
                          input_shape=(784,))
    train_briefly(model)
    path = export_onnx(model, tmp_path / "custom.onnx", preprocessing=PIXELS)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Sigmoid") == 2 and "Mul" in ops
    agreement(model, path, digits((784,)), PIXELS, "custom layers (Swish, Scale)")


class Cube(ln.Layer):
    """``Y = X³``, without an export hook."""

    def forward(self, x: Any, *, training: bool = False) -> Any:
        return x ** 3


class BadHook(Cube):
    def to_onnx(self, builder: Any) -> str:
        return "nowhere"


def test_a_layer_without_the_hook_stops_the_export_in_one_line(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Dense(4), Cube(name="cube")], input_shape=(3,))
    with pytest.raises(ExportError) as caught:
        export_onnx(model, tmp_path / "m.onnx")
    message = str(caught.value)
    assert "\n" not in message
    assert "layer 1 (Cube 'cube')" in message and "Cube.to_onnx(self, builder) -> str" in message
    assert not list(tmp_path.iterdir())           # nothing written, not even a temporary file


def test_a_hook_must_return_a_tensor_it_made() -> None:
    model = ln.Sequential([BadHook()], input_shape=(3,))
    with pytest.raises(ExportError, match="to_onnx must return the name of a tensor"):
        onnx_model(model)


def test_a_model_that_computes_nothing_at_inference(tmp_path: Path) -> None:
    model = ln.Sequential([ln.Dropout(0.5)], input_shape=(784,))
    path = export_onnx(model, tmp_path / "m.onnx")
    assert [n.op_type for n in onnx.load(str(path)).graph.node] == ["Identity"]
    raw = digits((784,), np.float32)[:10]
    np.testing.assert_array_equal(run_onnx(path, raw), raw)


class Clash(Cube):
    def to_onnx(self, builder: Any) -> str:
        return str(builder.add_node("Relu", [builder.input], [builder.input]))


def test_a_hook_cannot_reuse_a_name() -> None:
    with pytest.raises(ExportError, match="'input' is already used"):
        onnx_model(ln.Sequential([Clash()], input_shape=(3,)))


def test_refuses_unbuilt_models_and_bad_opsets() -> None:
    with pytest.raises(ExportError, match="not built"):
        onnx_model(ln.Sequential([ln.Dense(3)]))
    with pytest.raises(ExportError, match="opset must be an integer from 13"):
        onnx_model(logits_net(), opset=11)


def test_without_onnx_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)            # import onnx now raises ImportError
    with pytest.raises(ExportError, match=r"pip install -e '\.\[onnx\]'"):
        require_onnx()
    with pytest.raises(ExportError, match="needs the onnx package"):
        onnx_model(logits_net())


# -- the command line -------------------------------------------------------------------------
@pytest.fixture
def cli(run_cli: RunCli) -> RunCli:
    """``run_cli``: the CLI in-process (``layernet export`` is one of its commands)."""
    assert any(c.name == export_command.NAME for c in commands.COMMANDS)
    return run_cli


CNN_YAML = """
model:
  input_shape: [1, 28, 28]
  seed: 0
  layers:
    - {type: Conv2D, filters: 4, kernel_size: 3, padding: same}
    - BatchNorm
    - ReLU
    - {type: MaxPool2D, pool_size: 2}
    - Flatten
    - {type: Dense, units: 10}
    - Softmax
loss: CrossEntropy
optimizer: {type: Adam, lr: 0.003}
train: {epochs: 1, batch_size: 256}
data: {source: sample}
"""


@pytest.mark.parametrize("config", ["adam", "cnn"])
def test_cli_export_of_a_run_and_of_its_model_file(config: str, cli: RunCli, tmp_path: Path) -> None:
    source = ADAM_CONFIG
    if config == "cnn":
        source = tmp_path / "cnn.yaml"
        source.write_text(CNN_YAML)
    run = tmp_path / "run"
    trained = cli("train", source, "--data", "sample", "--epochs", "1", "--out", run, "--no-plots", "--quiet")
    assert trained.returncode == 0, trained.stderr
    saved = ln.load_model(run / "model.npz")
    for source_path, out in ((run, tmp_path / "from-run.onnx"), (run / "model.npz", tmp_path / "x" / "m.onnx")):
        result = cli("export", source_path, "--onnx", out)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert result.stdout.startswith(f"wrote {out}: ONNX opset {DEFAULT_OPSET}, input 'input' uint8[batch, ")
        assert saved.input_shape is not None
        agreement(saved, out, digits(saved.input_shape), PIXELS, f"CLI export of {config} ({source_path.name})")


def test_cli_refuses_to_overwrite_its_input(cli: RunCli, trained_run: Path, tmp_path: Path) -> None:
    model_file = trained_run / "model.npz"
    before = model_file.read_bytes()
    for source, out in ((trained_run, model_file), (model_file, model_file),
                        (trained_run, trained_run / "config.yaml")):
        result = cli("export", source, "--onnx", out)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "a file the export reads" in result.stderr
    assert model_file.read_bytes() == before
    assert cli("export", trained_run, "--onnx", tmp_path).returncode == 2      # a directory


def test_cli_without_onnx_says_what_to_install(cli: RunCli, trained_run: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    result = cli("export", trained_run, "--onnx", tmp_path / "m.onnx")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "pip install -e '.[onnx]'" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_cli_input_dtype_and_opset(cli: RunCli, trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    result = cli("export", trained_run, "--onnx", out, "--input-dtype", "float32", "--opset", "18")
    assert result.returncode == 0, result.stderr
    assert "opset 18, input 'input' float32[batch, 784]" in result.stdout
    saved = ln.load_model(trained_run / "model.npz")
    agreement(saved, out, digits((784,), np.float32), PIXELS, "CLI export, float32 input")


# -- docs/export.md ------------------------------------------------------------------------------
DOCS = REPO_ROOT / "docs" / "export.md"
SKIP = "<!-- docs-test: skip"


def python_blocks() -> list[tuple[bool, str]]:
    """``(skipped, code)`` for each Python block of docs/export.md."""
    found = re.findall(r"(<!-- docs-test: skip[^\n]*-->\n)?```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    return [(bool(marker), code) for marker, code in found]


def test_the_docs_hook_excerpt_is_the_example_plugins_code() -> None:
    """docs/export.md's ``to_onnx`` excerpt (its other blocks run in tests/test_docs_run.py)."""
    (_, hook_code), = [(skipped, code) for skipped, code in python_blocks() if skipped]
    plugin = (REPO_ROOT / "examples" / "custom_layers.py").read_text()
    for line in hook_code.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert line.strip() in plugin, line


def test_a_model_trained_on_uint8_exports_its_own_preprocessing(tmp_path: Path) -> None:
    """``ln.fit`` on raw pixels sets ``model.preprocessing``; the export takes raw uint8 without being told."""
    model = ln.Sequential([ln.Dense(10), ln.Softmax()], input_shape=(784,), seed=0)
    train = sample().train
    ln.fit(model, train.x[:512].reshape(512, 784), train.y[:512], epochs=1, batch_size=64, verbose=0)
    path = export_onnx(model, tmp_path / "carried.onnx")
    raw = digits((784,))
    got = run_onnx(path, raw)
    np.testing.assert_allclose(got, model.predict(raw), atol=TOLERANCE)
    assert (got.argmax(axis=1) == model.predict(raw).argmax(axis=1)).all()
