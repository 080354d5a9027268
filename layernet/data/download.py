"""Download the full MNIST files into a local cache, verified by md5.

Each file is fetched from the first mirror that serves it with the right
content (md5 of the uncompressed bytes, so a re-compressed copy is as good as
the original), written through a temporary file and renamed into place: the
cache never holds a half-written or unverified file under its final name.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..errors import DataError
from ..atomic import atomic_write
from ._files import uncompressed_md5

#: Public MNIST mirrors, tried in order (each holds the four ``.gz`` files).
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: MNIST file name -> md5 of its uncompressed content (the published IDX files).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
}


class _AttemptFailed(Exception):
    """One mirror did not deliver a good copy; the message says why."""


def default_cache_dir() -> Path:
    """Where ``download_mnist`` keeps MNIST by default.

    ``$LAYERNET_CACHE/mnist`` if ``LAYERNET_CACHE`` is set, else
    ``$XDG_CACHE_HOME/layernet/mnist``, else ``~/.cache/layernet/mnist``.
    """
    if os.environ.get("LAYERNET_CACHE"):
        return Path(os.environ["LAYERNET_CACHE"]).expanduser() / "mnist"
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "layernet" / "mnist"
    return Path.home() / ".cache" / "layernet" / "mnist"


def download_mnist(
    directory: str | Path | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    report: Callable[[str], None] | None = None,
) -> Path:
    """Make sure ``directory`` holds the verified MNIST files, downloading what is missing.

    Args:
        directory: the destination; :func:`default_cache_dir` by default.
        mirrors: base URLs tried in order for each file (``DEFAULT_MIRRORS``).
        checksums: file name -> md5 of the uncompressed content (``MNIST_MD5``);
            the files to fetch.
        timeout: seconds to wait for each connection or read.
        report: called with a one-line message before each download (progress
            for a command line); nothing is printed otherwise.

    Returns:
        ``directory``, now an MNIST-format directory (see ``load_mnist_dir``).

    Raises:
        DataError: when no mirror delivered a file with the right md5; the
            message lists every URL tried and what went wrong with it.
    """
    target_dir = Path(directory) if directory is not None else default_cache_dir()
    urls = list(DEFAULT_MIRRORS if mirrors is None else mirrors)
    if not urls:
        raise DataError("download_mnist: mirrors is empty; pass at least one base URL")
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"{target_dir}: cannot create the download folder ({error})") from None
    for name, md5 in (MNIST_MD5 if checksums is None else checksums).items():
        target = target_dir / name
        if not _is_valid(target, md5):
            _fetch(name, md5, target, urls, timeout, report)
    return target_dir


def _is_valid(path: Path, md5: str) -> bool:
    """Whether ``path`` exists and its uncompressed content has md5 ``md5``."""
    try:
        return path.is_file() and uncompressed_md5(path) == md5
    except DataError:
        return False


def _fetch(name: str, md5: str, target: Path, mirrors: list[str], timeout: float,
           report: Callable[[str], None] | None) -> None:
    """Download ``name`` from the first mirror that gives the right content."""
    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{name}"
        if report is not None:
            report(f"downloading {url}")
        try:
            _download_verified(url, md5, target, timeout)
            return
        except _AttemptFailed as exc:
            failures.append(f"{url}: {exc}")
    raise DataError(f"could not download {name} into {target.parent}: {'; '.join(failures)} "
                    "(check the network, pass other mirrors, or copy the MNIST files there)")


def _download_verified(url: str, md5: str, target: Path, timeout: float) -> None:
    """Fetch ``url`` into ``target`` atomically, keeping it only if its md5 matches."""
    import http.client  # the networking modules cost 35 ms: imported only to download
    import urllib.error
    import urllib.request

    try:
        with atomic_write(target) as out:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                shutil.copyfileobj(response, out)
            out.flush()
            got = uncompressed_md5(Path(out.name))
            if got != md5:
                raise _AttemptFailed(f"md5 of the uncompressed content is {got}, expected {md5}")
    except urllib.error.HTTPError as exc:
        raise _AttemptFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _AttemptFailed(str(exc.reason)) from None
    except (OSError, http.client.HTTPException, ValueError, DataError) as exc:
        raise _AttemptFailed(str(exc) or type(exc).__name__) from None
