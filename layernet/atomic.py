"""Atomic file writes: a file is complete under its final name, or not there at all.

Every file layernet writes (models, checkpoints, run outputs, plots, data,
downloads) goes through :func:`atomic_write`: the bytes go to a new temporary
file in the same folder, are flushed and fsynced, and the file is renamed over
the target with :func:`os.replace`. A crash or an exception leaves the old
file (or none), never a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[IO[bytes]]:
    """Open a temporary file to write ``path``'s bytes; rename it into place if the body succeeds.

    The temporary file is created with the usual permissions (subject to the
    umask) and removed if the ``with`` body raises. The folder must exist.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        with open(temporary, "xb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8"))


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry of a renamed file to disk (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
