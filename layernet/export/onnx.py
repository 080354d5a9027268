"""Export a :class:`~layernet.Sequential` to an ONNX model file (see ``docs/export.md``).

The graph takes the same raw input as ``layernet predict``: with the model file's
preprocessing ``{"shift": s, "scale": c}`` it starts with ``Cast`` (uint8 pixels to
float), ``Sub s`` and ``Mul c``, then one or a few standard ONNX operators per layer.
The batch axis is dynamic (``"batch"``); every tensor after the ``Cast`` is float32.

=================  ============================================================
layer              ONNX operators (default opset :data:`DEFAULT_OPSET`)
=================  ============================================================
Dense              Gemm (``Y = X·W + b``; ``W`` is ``(in, units)``)
Conv2D, Conv1D     Conv (explicit pads; ``"same"`` puts the odd pixel bottom/right)
MaxPool2D          MaxPool (padding never wins, like layernet's ``-inf``)
AvgPool2D          AveragePool with ``count_include_pad=1``
GlobalAvgPool2D    GlobalAveragePool, Flatten
BatchNorm          BatchNormalization (inference: running mean and variance)
ReLU, LeakyReLU    Relu, LeakyRelu(alpha)
Sigmoid, Tanh      Sigmoid, Tanh
Softmax            Softmax(axis=-1)
Flatten, Reshape   Flatten(axis=1), Reshape([0, *shape])
Dropout            nothing: the identity at inference
=================  ============================================================

A layer of your own exports when it has a ``to_onnx(builder) -> str`` method
(the :class:`OnnxExportable` protocol): it adds nodes and initialisers through the
:class:`OnnxBuilder` it is given and returns the name of its output tensor.

``onnx`` is an optional dependency (``pip install -e '.[onnx]'``); it is imported only
inside the functions that need it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .._version import __version__
from ..atomic import atomic_write
from ..errors import ExportError
from ..layers import (AvgPool2D, BatchNorm, Conv1D, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D,
                      Layer, LeakyReLU, MaxPool2D, ReLU, Reshape, Sigmoid, Softmax, Tanh)
from ..model import Sequential

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto, TensorProto

#: The opset written by default: ONNX 1.12+ and ONNX Runtime 1.12+ read it.
DEFAULT_OPSET = 17
#: The oldest opset the built-in layers can be written in (``Softmax`` over one axis).
MIN_OPSET = 13
#: The name of the graph's input: ``(batch, *model.input_shape)``.
INPUT_NAME = "input"
#: The name of the graph's output when the model ends in Softmax or Sigmoid.
PROBABILITIES_NAME = "probabilities"
#: The name of the graph's output otherwise (e.g. logits).
OUTPUT_NAME = "output"
#: How to install what the export needs.
INSTALL_HINT = "pip install onnx, or pip install -e '.[onnx]' in a layernet clone"

InputDType = Literal["uint8", "float32"]
#: The accepted ``input_dtype`` values.
INPUT_DTYPES: tuple[InputDType, ...] = ("uint8", "float32")


@runtime_checkable
class OnnxExportable(Protocol):
    """A layer that can write itself into an ONNX graph.

    ``to_onnx`` reads its input tensor's name from ``builder.input``, adds nodes with
    :meth:`OnnxBuilder.add_node` and weights with :meth:`OnnxBuilder.add_initializer`,
    and returns the name of the tensor holding its output ``(batch, *output_shape)``.
    It is called once, on a built layer, in inference mode (no training behaviour).

    Example (``Y = X · σ(X)``)::

        def to_onnx(self, builder: OnnxBuilder) -> str:
            return builder.add_node("Mul", [builder.input, builder.add_node("Sigmoid", [builder.input])])
    """

    def to_onnx(self, builder: OnnxBuilder) -> str:
        """Add this layer's nodes to ``builder``; return the name of its output tensor."""
        ...


class OnnxBuilder:
    """What a layer's ``to_onnx`` writes into: nodes, initialisers and fresh names.

    Attributes:
        input: the name of the current layer's input tensor ``(batch, *input_shape)``.
        prefix: the current layer's name prefix, e.g. ``"layers.3."`` (names start with it).
        opset: the ONNX opset being written (default domain).
        dtype: the float type of the graph's tensors (``float32``); floating
            initialisers are converted to it.
    """

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.dtype: np.dtype[np.float32] = np.dtype(np.float32)
        self.input = INPUT_NAME
        self.prefix = ""
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._names: set[str] = {INPUT_NAME, PROBABILITIES_NAME, OUTPUT_NAME}

    def fresh(self, hint: str) -> str:
        """A tensor or node name not used yet: ``prefix + hint``, with ``_1``, ``_2``, ... if needed."""
        base = self.prefix + hint
        name, count = base, 0
        while name in self._names:
            count += 1
            name = f"{base}_{count}"
        self._names.add(name)
        return name

    def add_initializer(self, name_hint: str, array: npt.ArrayLike) -> str:
        """Store ``array`` as a constant tensor of the graph; returns its (fresh) name.

        Floating arrays are stored as :attr:`dtype` (float32); integer arrays keep their
        type (ONNX wants ``int64`` for shapes and axes).
        """
        from onnx import numpy_helper

        value = np.asarray(array)
        if np.issubdtype(value.dtype, np.floating):
            value = value.astype(self.dtype)
        name = self.fresh(name_hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def add_node(self, op: str, inputs: Sequence[str], outputs: Sequence[str] | None = None, *,
                 domain: str = "", **attributes: Any) -> str:
        """Add the node ``op(inputs) -> outputs`` with ``attributes``; returns its first output's name.

        ``outputs`` default to one fresh name derived from ``op``; given names are
        reserved so :meth:`fresh` never hands them out again. Attribute values are
        ints, floats, strings or lists of them (as :func:`onnx.helper.make_node` takes).
        """
        from onnx import helper

        if outputs is None:
            outputs = [self.fresh(op.lower())]
        else:
            taken = [name for name in outputs if name in self._names]
            if taken:
                raise ExportError(f"{op}: the output name {taken[0]!r} is already used; let add_node "
                                  f"choose one or take one from builder.fresh")
            self._names.update(outputs)
        if not outputs:
            raise ExportError(f"{op}: a node needs at least one output")
        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), name=self.fresh(f"{op}"),
                                           domain=domain or None, **attributes))
        return outputs[0]


# -- built-in layers -----------------------------------------------------------------------------
def _dense(layer: Dense, b: OnnxBuilder) -> str:
    inputs = [b.input, b.add_initializer("weight", layer.weight.value)]
    if layer.bias is not None:
        inputs.append(b.add_initializer("bias", layer.bias.value))
    return b.add_node("Gemm", inputs)


def _conv_pads(layer: Conv1D | Conv2D) -> list[int]:
    """ONNX ``pads`` ``[begin..., end...]`` of a convolution, as the layer pads its input."""
    rank = len(layer.kernel_size)
    begins, ends = [], []
    for axis in range(rank):
        if not isinstance(layer.padding, str):
            begin = end = layer.padding[axis]
        elif layer.padding == "same":          # PyTorch: the odd pixel goes to the end
            total = layer.dilation[axis] * (layer.kernel_size[axis] - 1)
            begin, end = total // 2, total - total // 2
        else:                                  # "valid"
            begin = end = 0
        begins.append(begin)
        ends.append(end)
    return begins + ends


def _conv(layer: Conv1D | Conv2D, b: OnnxBuilder) -> str:
    inputs = [b.input, b.add_initializer("weight", layer.weight.value)]
    if layer.bias is not None:
        inputs.append(b.add_initializer("bias", layer.bias.value))
    return b.add_node("Conv", inputs, kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                      dilations=list(layer.dilation), pads=_conv_pads(layer), group=1)


def _max_pool(layer: MaxPool2D, b: OnnxBuilder) -> str:
    return b.add_node("MaxPool", [b.input], kernel_shape=list(layer.pool_size),
                      strides=list(layer.stride), pads=list(layer.padding) * 2)


def _avg_pool(layer: AvgPool2D, b: OnnxBuilder) -> str:
    return b.add_node("AveragePool", [b.input], kernel_shape=list(layer.pool_size),
                      strides=list(layer.stride), pads=list(layer.padding) * 2, count_include_pad=1)


def _global_avg_pool(layer: GlobalAvgPool2D, b: OnnxBuilder) -> str:
    return b.add_node("Flatten", [b.add_node("GlobalAveragePool", [b.input])], axis=1)


def _batch_norm(layer: BatchNorm, b: OnnxBuilder) -> str:
    inputs = [b.input, b.add_initializer("weight", layer.weight.value),
              b.add_initializer("bias", layer.bias.value),
              b.add_initializer("running_mean", layer.running_mean),
              b.add_initializer("running_var", layer.running_var)]
    return b.add_node("BatchNormalization", inputs, epsilon=float(layer.eps))


def _reshape(layer: Reshape, b: OnnxBuilder) -> str:
    shape = b.add_initializer("shape", np.array([0, *layer.shape], dtype=np.int64))   # 0: keep the batch
    return b.add_node("Reshape", [b.input, shape])


def _leaky_relu(layer: LeakyReLU, b: OnnxBuilder) -> str:
    return b.add_node("LeakyRelu", [b.input], alpha=float(layer.alpha))


def _unary(op: str, **attributes: Any) -> Callable[[Layer, OnnxBuilder], str]:
    def convert(layer: Layer, b: OnnxBuilder) -> str:
        return b.add_node(op, [b.input], **attributes)
    return convert


def _identity(layer: Layer, b: OnnxBuilder) -> str:
    return b.input


#: The built-in converters by exact layer class (a subclass must bring its own ``to_onnx``).
BUILTIN: dict[type[Layer], Callable[[Any, OnnxBuilder], str]] = {
    Dense: _dense, Conv2D: _conv, Conv1D: _conv, MaxPool2D: _max_pool, AvgPool2D: _avg_pool,
    GlobalAvgPool2D: _global_avg_pool, BatchNorm: _batch_norm, Reshape: _reshape,
    Flatten: _unary("Flatten", axis=1), ReLU: _unary("Relu"), LeakyReLU: _leaky_relu,
    Sigmoid: _unary("Sigmoid"), Tanh: _unary("Tanh"), Softmax: _unary("Softmax", axis=-1),
    Dropout: _identity,
}


def _describe(index: int, layer: Layer) -> str:
    label = f" {layer.name!r}" if layer.name else ""
    return f"layer {index} ({type(layer).__name__}{label})"


def _convert(index: int, layer: Layer, b: OnnxBuilder) -> str:
    if isinstance(layer, OnnxExportable):
        output = layer.to_onnx(b)
        if not isinstance(output, str) or output not in b._names:
            raise ExportError(f"{_describe(index, layer)}: to_onnx must return the name of a tensor it "
                              f"added with builder.add_node (or builder.input), got {output!r}")
        return output
    convert = BUILTIN.get(type(layer))
    if convert is None:
        cls = type(layer).__name__
        raise ExportError(f"{_describe(index, layer)} cannot be exported to ONNX: write "
                          f"{cls}.to_onnx(self, builder) -> str, which adds its nodes with "
                          f"builder.add_node and returns its output's name (see docs/export.md)")
    return convert(layer, b)


# -- the model ---------------------------------------------------------------------------------
def require_onnx() -> None:
    """Raise :class:`ExportError` with the install command when ``onnx`` is not importable."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ExportError(f"exporting to ONNX needs the onnx package: {INSTALL_HINT}") from None


def default_input_dtype(preprocessing: Mapping[str, float] | None) -> InputDType:
    """``"uint8"`` when ``preprocessing`` scales by 1/255 (pixels), else ``"float32"``."""
    if preprocessing is not None and math.isclose(float(preprocessing["scale"]), 1 / 255, rel_tol=1e-6):
        return "uint8"
    return "float32"


def output_name(model: Sequential) -> str:
    """``"probabilities"`` when the model ends in Softmax or Sigmoid, else ``"output"``."""
    ends_in_probabilities = bool(model.layers) and type(model.layers[-1]) in (Softmax, Sigmoid)
    return PROBABILITIES_NAME if ends_in_probabilities else OUTPUT_NAME


def carried_preprocessing(model: Sequential) -> dict[str, float] | None:
    """The preprocessing the model carries (set by training), as ``{"shift", "scale"}``, or None.

    Raises:
        ExportError: the model normalises each input value differently (per-pixel arrays).
    """
    rule = model.preprocessing
    if rule is None or rule.identity:
        return None
    if np.ndim(rule.shift) or np.ndim(rule.scale):
        raise ExportError("the model's preprocessing differs per input value; pass "
                          "preprocessing={'shift': s, 'scale': c} explicitly")
    return {"shift": float(rule.shift), "scale": float(rule.scale)}


def _check_preprocessing(preprocessing: Mapping[str, float] | None) -> tuple[float, float] | None:
    if preprocessing is None:
        return None
    try:
        shift, scale = float(preprocessing["shift"]), float(preprocessing["scale"])
    except (KeyError, TypeError, ValueError):
        raise ExportError(f"preprocessing must be {{'shift': number, 'scale': number}}, got "
                          f"{dict(preprocessing)!r}") from None
    if not (math.isfinite(shift) and math.isfinite(scale)):
        raise ExportError(f"preprocessing shift and scale must be finite, got {shift} and {scale}")
    return shift, scale


def onnx_model(model: Sequential, *, preprocessing: Mapping[str, float] | None = None,
               opset: int = DEFAULT_OPSET, input_dtype: InputDType | None = None) -> ModelProto:
    """The ONNX model of ``model`` (see :func:`export_onnx`), checked but not written."""
    require_onnx()
    import onnx
    from onnx import TensorProto, helper

    if model.input_shape is None or model.output_shape is None:
        raise ExportError("the model is not built: call model.build(input_shape) or train it "
                          "before exporting")
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        raise ExportError(f"opset must be an integer from {MIN_OPSET} to {latest} (this onnx's "
                          f"newest), got {opset!r}")
    if preprocessing is None:
        preprocessing = carried_preprocessing(model)
    pre = _check_preprocessing(preprocessing)
    dtype = default_input_dtype(preprocessing) if input_dtype is None else input_dtype
    if dtype not in INPUT_DTYPES:
        raise ExportError(f"input_dtype must be one of {', '.join(INPUT_DTYPES)}, got {dtype!r}")

    b = OnnxBuilder(opset)
    b.prefix = "preprocess."
    if dtype == "uint8":
        b.input = b.add_node("Cast", [b.input], to=TensorProto.FLOAT)
    if pre is not None:
        shift, scale = pre
        if shift != 0:
            b.input = b.add_node("Sub", [b.input, b.add_initializer("shift", np.float32(shift))])
        if scale != 1:
            b.input = b.add_node("Mul", [b.input, b.add_initializer("scale", np.float32(scale))])
    for index, layer in enumerate(model.layers):
        b.prefix = f"layers.{index}."
        b.input = _convert(index, layer, b)

    final = output_name(model)
    producer = next((node for node in reversed(b.nodes) if b.input in node.output), None)
    consumed = any(b.input in node.input for node in b.nodes)
    if producer is not None and not consumed:      # rename the last tensor instead of copying it
        producer.output[list(producer.output).index(b.input)] = final
    else:
        b.prefix = ""
        b._names.discard(final)                     # reserved for exactly this node
        b.add_node("Identity", [b.input], [final])

    elem = TensorProto.UINT8 if dtype == "uint8" else TensorProto.FLOAT
    graph = helper.make_graph(
        b.nodes, "layernet",
        [helper.make_tensor_value_info(INPUT_NAME, elem, ["batch", *model.input_shape])],
        [helper.make_tensor_value_info(final, TensorProto.FLOAT, ["batch", *model.output_shape])],
        b.initializers)
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(domain, 1) for domain in sorted({n.domain for n in b.nodes} - {""})]
    result = helper.make_model(graph, opset_imports=opsets, producer_name="layernet",
                               producer_version=__version__,
                               ir_version=helper.find_min_ir_version_for(opsets[:1]))
    props = {"layernet.layers": json.dumps([type(layer).__name__ for layer in model.layers])}
    if pre is not None:
        props["layernet.preprocessing"] = json.dumps({"shift": pre[0], "scale": pre[1]})
    helper.set_model_props(result, props)
    try:
        onnx.checker.check_model(result, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ExportError(f"the exported graph is not valid ONNX: {error}") from None
    return result


def export_onnx(model: Sequential, path: str | Path, *, preprocessing: Mapping[str, float] | None = None,
                opset: int = DEFAULT_OPSET, input_dtype: InputDType | None = None) -> Path:
    """Write ``model`` as an ONNX file that maps raw inputs to the model's outputs.

    Args:
        model: a built model; every layer is built-in or has a ``to_onnx(builder)``
            hook (:class:`OnnxExportable`).
        path: the ``.onnx`` file to write (atomically; its folder must exist).
        preprocessing: ``{"shift": s, "scale": c}``; the graph starts with ``(x − s) · c`` so
            it takes the raw input ``layernet predict`` takes. Default: the preprocessing the
            model carries (``model.preprocessing``, set by training), if any.
        opset: the ONNX opset (default :data:`DEFAULT_OPSET`, at least :data:`MIN_OPSET`).
        input_dtype: ``"uint8"`` (pixels, cast to float first) or ``"float32"``; default
            ``"uint8"`` when ``preprocessing`` scales by 1/255, else ``"float32"``.

    Returns:
        ``path`` as a :class:`Path`. The graph's input is ``"input"``
        ``(batch, *model.input_shape)``; its output is ``"probabilities"`` (model ending
        in Softmax or Sigmoid) or ``"output"``, float32 ``(batch, *model.output_shape)``.

    Raises:
        ExportError: onnx is not installed, the model is not built, a layer has no
            converter or hook, or an argument is invalid.
    """
    proto = onnx_model(model, preprocessing=preprocessing, opset=opset, input_dtype=input_dtype)
    target = Path(path)
    with atomic_write(target) as handle:
        handle.write(proto.SerializeToString())
    return target
