"""``layernet export RUN_DIR|MODEL_FILE --onnx OUT.onnx``: a trained model as an ONNX file.

Register it in :data:`layernet.cli.commands.COMMANDS` with
``Command(NAME, HELP, EXAMPLE, arguments, handler)``. This module does not import
``commands`` (which will import it), so there is no import cycle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import LayernetError
from ..export.onnx import (DEFAULT_OPSET, INPUT_DTYPES, INPUT_NAME, default_input_dtype, export_onnx,
                           output_name, require_onnx)
from .rundir import (CONFIG_FILE, HISTORY_FILE, METRICS_FILE, MODEL_FILE, add_consent_argument,
                     open_run)

#: The subcommand's name, one-line help and example (the fields of ``commands.Command``).
NAME = "export"
HELP = "export a trained model to ONNX (for ONNX Runtime and other inference engines)"
EXAMPLE = "layernet export runs/digits --onnx digits.onnx"


def arguments(parser: argparse.ArgumentParser) -> None:
    """The ``export`` arguments."""
    parser.add_argument("model", type=Path, metavar="RUN_DIR_OR_MODEL",
                        help="a run directory (from layernet train) or a model .npz file")
    parser.add_argument("--onnx", type=Path, required=True, metavar="OUT.onnx",
                        help="the ONNX file to write (see docs/export.md)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, metavar="N",
                        help=f"ONNX opset to write (default {DEFAULT_OPSET})")
    parser.add_argument("--input-dtype", choices=INPUT_DTYPES, default=None,
                        help="type of the graph's input: uint8 pixels or float32 values (default: "
                        "uint8 when the model was trained on pixels / 255, else float32)")
    add_consent_argument(parser)


def _inputs_of(source: Path) -> list[Path]:
    """The files ``layernet export source`` reads (none of which it may overwrite)."""
    if source.is_dir():
        return [source / MODEL_FILE, source / CONFIG_FILE, source / HISTORY_FILE, source / METRICS_FILE]
    return [source]


def handler(args: argparse.Namespace) -> int:
    """``layernet export``: write the model (with its input preprocessing) as an ONNX file."""
    out: Path = args.onnx
    if any(out.resolve() == path.resolve() for path in _inputs_of(args.model)):
        raise LayernetError(f"{out}: is a file the export reads; choose another --onnx path, "
                            f"e.g. {out.with_name('model.onnx')}")
    if out.is_dir():
        raise LayernetError(f"{out}: is a directory; --onnx takes a file name, e.g. {out / 'model.onnx'}")
    require_onnx()
    run = open_run(args.model, allow_plugins=args.allow_plugins)
    preprocessing = {"shift": run.shift, "scale": run.scale}
    dtype = args.input_dtype or default_input_dtype(preprocessing)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(run.model, out, preprocessing=preprocessing, opset=args.opset, input_dtype=dtype)
    shape = ", ".join(["batch", *map(str, run.model.input_shape or ())])
    out_shape = ", ".join(["batch", *map(str, run.model.output_shape or ())])
    print(f"wrote {out}: ONNX opset {args.opset}, input '{INPUT_NAME}' {dtype}[{shape}] "
          f"(x - {run.shift:g}) * {run.scale:g}, output '{output_name(run.model)}' float32[{out_shape}]",
          flush=True)
    return 0
