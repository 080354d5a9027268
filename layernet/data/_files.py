"""File helpers for the data readers: gzip detection by magic bytes and checksums."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..atomic import special_file
from ..errors import DataError

#: The first two bytes of every gzip stream (RFC 1952).
GZIP_MAGIC = b"\x1f\x8b"
#: Exceptions that mean "this gzip stream is damaged".
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


@contextlib.contextmanager
def open_maybe_gzip(path: Path) -> Iterator[io.BufferedIOBase]:
    """Open ``path`` for binary reading, decompressing it when it starts with the gzip magic.

    The extension does not matter: ``x.gz`` holding raw bytes and ``x`` holding
    gzip data both read correctly. A missing or unreadable file is a DataError.
    """
    special = special_file(path)
    if special is not None:
        raise DataError(f"{path}: is {special}, expected a file")
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the ExitStack below
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(raw)
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        else:
            raw.seek(0)
            yield raw


def uncompressed_md5(path: Path) -> str:
    """The md5 hex digest of ``path``'s content after gzip decompression (if it is gzip)."""
    digest = hashlib.md5()
    with open_maybe_gzip(path) as stream:
        try:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        except GZIP_ERRORS as exc:
            raise DataError(f"{path}: corrupt gzip data: {exc}") from None
    return digest.hexdigest()
