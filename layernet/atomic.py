"""Atomic file writes: a file is complete under its final name, or not there at all.

Every file layernet writes (models, checkpoints, run outputs, plots, data,
downloads) goes through :func:`atomic_write`: the bytes go to a new temporary
file in the same folder, are flushed and fsynced, and the file is renamed over
the target with :func:`os.replace`. A crash or an exception leaves the old
file (or none), never a half-written one.

Waiting for the disk (fsync) costs about 10 ms a file, more than an epoch of a small
model takes, so a file rewritten within :data:`SYNC_INTERVAL` seconds of its last
fsync (a run's live files and last checkpoint, after every short epoch) is renamed
into place without one: still atomic if the process dies, at most that many seconds
behind if the machine loses power. ``durable=True`` always waits (a run's final files).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import FileAccessError


#: Seconds within which a rewrite of the same file skips the fsync (see the module docstring).
SYNC_INTERVAL = 2.0
#: When each file was last fsynced (monotonic clock), by absolute path.
_synced_at: dict[Path, float] = {}


@contextlib.contextmanager
def atomic_write(path: str | Path, *, durable: bool | None = None) -> Iterator[IO[bytes]]:
    """Open a temporary file to write ``path``'s bytes; rename it into place if the body succeeds.

    The temporary file is created with the usual permissions (subject to the
    umask) and removed if the ``with`` body raises. The folder must exist.
    ``durable``: fsync the file and its folder (True), or not (False); by default
    unless ``path`` was fsynced less than :data:`SYNC_INTERVAL` seconds ago.

    Raises:
        FileAccessError: an operating-system error while writing (permission
            denied, no space left, ``path`` is a folder, ...), naming ``path``,
            not the temporary file, with a hint; it is also an ``OSError``.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
        special = special_file(target)
        if special is not None:  # renaming over it would replace the pipe or device itself
            raise FileAccessError(str(target), f"is {special}", "layernet writes regular files "
                                  "(atomically, by renaming a new file into place): give a file name")
        sync = _sync_due(target) if durable is None else durable
        with open(temporary, "xb") as handle:
            yield handle
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and _about_the_file(error):
            raise access_error(error, target) from None
        raise
    if sync:
        _sync_folder(target.parent)


def _sync_due(target: Path) -> bool:
    """Whether to fsync ``target`` now: not within :data:`SYNC_INTERVAL` seconds of its last fsync."""
    key, now = target.absolute(), time.monotonic()
    if now - _synced_at.get(key, -SYNC_INTERVAL) < SYNC_INTERVAL:
        return False
    if len(_synced_at) > 4096:  # forget old files; a forgotten one is merely synced again
        _synced_at.clear()
    _synced_at[key] = now
    return True


def special_file(path: str | Path) -> str | None:
    """What ``path`` is when it exists but is neither a regular file nor a folder (following
    symbolic links): ``"a FIFO (named pipe)"``, ``"a character device"``, ``"a symbolic link
    loop"``...; None when it is missing, a regular file or a folder. Reading a FIFO or a device
    such as ``/dev/zero`` would block or never end, and replacing one would destroy it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return "a symbolic link loop" if error.errno == errno.ELOOP else None
    except ValueError:  # a NUL in the name
        return None
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), None)


def _about_the_file(error: OSError) -> bool:
    """Whether ``error`` is a file-system error (not a network one, nor already ours)."""
    return (type(error).__module__ == "builtins"
            and not isinstance(error, (FileAccessError, ConnectionError, TimeoutError)))


def access_error(error: OSError, path: str | Path | None = None) -> FileAccessError:
    """``error`` as a :class:`FileAccessError` about ``path`` (default: the error's own file)
    with a hint for the usual causes."""
    where = str(path if path is not None else error.filename or "")
    reason = error.strerror or " ".join(str(error).split()) or type(error).__name__
    return FileAccessError(where, reason, os_error_hint(error), error.errno)


def os_error_hint(error: OSError) -> str:
    """How to fix the operating-system error ``error``, in a few words."""
    return _HINTS.get(error.errno or -1, "check the folder exists and is writable")


_HINTS = {
    errno.EACCES: "permission denied: choose a place you may write to, or change its permissions",
    errno.EPERM: "operation not permitted: choose another place, or change its permissions",
    errno.ENOSPC: "no space left on the device: free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded: free some space or write elsewhere",
    errno.EISDIR: "that is a folder: give a file name",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENOENT: "no such file or folder: check the folder exists and the path is right",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter one",
    errno.EEXIST: "it already exists: choose another name",
    errno.EIO: "input/output error: the disk or network may be failing",
}


def write_text(path: str | Path, text: str, *, durable: bool | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (``durable``: see :func:`atomic_write`)."""
    with atomic_write(path, durable=durable) as handle:
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
