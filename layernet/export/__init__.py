"""Exporting trained models to other runtimes: ONNX (:func:`export_onnx`, ``docs/export.md``)."""

from .onnx import DEFAULT_OPSET as DEFAULT_OPSET
from .onnx import OnnxBuilder as OnnxBuilder
from .onnx import OnnxExportable as OnnxExportable
from .onnx import export_onnx as export_onnx
from .onnx import onnx_model as onnx_model

__all__ = ["DEFAULT_OPSET", "OnnxBuilder", "OnnxExportable", "export_onnx", "onnx_model"]
