"""The ``layernet`` command: train, evaluate, predict, summary, validate, gradcheck, data, plot, sweep.

Every user error (bad config, data, model file or arguments) ends with one line
on standard error and exit code 2; a failed gradient check exits with 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import numpy as np

from ..atomic import access_error
from ..errors import LayernetError
from . import commands, sweep_command

#: Exit code of every user error.
USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``layernet`` argument parser with one subparser per command."""
    parser = _Parser(prog="layernet", description="Define, train and use numpy neural networks "
                     "described in YAML.", epilog="Run 'layernet COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"layernet {commands.version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for spec in (*commands.COMMANDS, sweep_command.COMMAND):
        command = sub.add_parser(spec.name, help=spec.help, description=spec.help,
                                 epilog=f"example:\n  {spec.example}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        spec.arguments(command)
        command.set_defaults(handler=spec.handler, parser=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 1 failed check, 2 user error)."""
    args, unknown = build_parser().parse_known_args(argv)
    args.argv = None if argv is None else ["layernet", *argv]
    if unknown:
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        # Overflow in a diverging run or a damaged model is reported by layernet itself
        # (TrainingDivergedError, a non-finite loss), never as numpy warning lines.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            code: int = args.handler(args)
        return code
    except LayernetError as error:
        return _fail(str(error))
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as error:
        return _fail(str(access_error(error)))
    except MemoryError:
        return _fail("out of memory; use less data (data.limit), a smaller batch_size or a "
                     "smaller model, or check that the input files are the ones you meant")
    except RecursionError:
        return _fail("a structure is nested too deeply to process; check the input files")
    except KeyboardInterrupt as stop:
        print("layernet: interrupted", file=sys.stderr)
        return int(getattr(stop, "exit_code", 130))


def _closed_pipe() -> int:
    """The reader of standard output went away (``layernet evaluate RUN | head -1``): stop
    quietly with status 0, as ``head`` intended, and keep Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (captured output)
        pass
    return 0


def _fail(message: str) -> int:
    print(f"layernet: error: {' '.join(message.split())}", file=sys.stderr)
    return USAGE_ERROR
