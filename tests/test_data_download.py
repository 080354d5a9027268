"""download_mnist against a local HTTP server on 127.0.0.1: success, corruption, fallback, cache.

No request leaves 127.0.0.1: proxies are disabled and every URL opened is checked.
"""

from __future__ import annotations

import shutil
import threading
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layernet import DataError
from layernet.data import MNIST_MD5, default_cache_dir, download_mnist, load_mnist_dir, write_idx
from layernet.data._files import uncompressed_md5
from layernet.data.mnist_format import MNIST_FILES


class Handler(SimpleHTTPRequestHandler):
    """Serves files quietly; under ``/short/`` it promises more bytes than it sends."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming
        if self.path.startswith("/short/"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b partial")
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Keep test output clean."""


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every URL download_mnist opens; fails the test if one is not on 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    urls: list[str] = []
    real_urlopen = urllib.request.urlopen

    def local_only(url: str, *args: Any, **kwargs: Any) -> Any:
        assert url.startswith("http://127.0.0.1:"), f"request leaves the machine: {url}"
        urls.append(url)
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)
    return urls


@pytest.fixture
def www(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server: (base URL, folder it serves)."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", root
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def synthetic(www: tuple[str, Path]) -> dict[str, str]:
    """Small MNIST-format gz files under ``/good/``; returns their md5 table."""
    rng = np.random.default_rng(4)
    good = www[1] / "good"
    arrays = (rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.arange(5, dtype=np.uint8),
              rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), np.arange(3, dtype=np.uint8))
    return {f"{stem}.gz": uncompressed_md5(write_idx(good / f"{stem}.gz", array))
            for stem, array in zip(MNIST_FILES, arrays, strict=True)}


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_good_download(tmp_path: Path, www: tuple[str, Path], synthetic: dict[str, str],
                       requested: list[str]) -> None:
    messages: list[str] = []
    cache = download_mnist(tmp_path / "cache", mirrors=[f"{www[0]}/good/"], checksums=synthetic,
                           report=messages.append)
    assert cache == tmp_path / "cache"
    assert _leftovers(cache) == sorted(synthetic)
    assert len(load_mnist_dir(cache).train) == 5
    assert len(requested) == 4 and messages == [f"downloading {url}" for url in requested]
    download_mnist(cache, mirrors=[f"{www[0]}/good/"], checksums=synthetic)
    assert len(requested) == 4, "files already present and valid are not fetched again"


def test_corrupted_download_is_rejected_and_not_kept(
        tmp_path: Path, www: tuple[str, Path], synthetic: dict[str, str],
        requested: list[str]) -> None:
    name = "train-labels-idx1-ubyte.gz"
    bad = www[1] / "bad"
    shutil.copytree(www[1] / "good", bad)
    write_idx(bad / name, np.arange(1, 6, dtype=np.uint8))
    with pytest.raises(DataError) as info:
        download_mnist(tmp_path / "cache", mirrors=[f"{www[0]}/bad"], checksums=synthetic)
    message = str(info.value)
    assert f"could not download {name}" in message
    assert f"{www[0]}/bad/{name}: md5 of the uncompressed content is" in message
    assert name not in _leftovers(tmp_path / "cache")
    assert not any(item.endswith(".part") for item in _leftovers(tmp_path / "cache"))


def test_interrupted_transfer_leaves_no_file(tmp_path: Path, www: tuple[str, Path],
                                             synthetic: dict[str, str],
                                             requested: list[str]) -> None:
    with pytest.raises(DataError, match="/short/train-images-idx3-ubyte.gz: "):
        download_mnist(tmp_path / "cache", mirrors=[f"{www[0]}/short/"], checksums=synthetic,
                       timeout=5)
    assert _leftovers(tmp_path / "cache") == []


def test_404_on_first_mirror_falls_back_to_second(
        tmp_path: Path, www: tuple[str, Path], synthetic: dict[str, str],
        requested: list[str]) -> None:
    download_mnist(tmp_path / "cache", mirrors=[f"{www[0]}/missing/", f"{www[0]}/good/"],
                   checksums=synthetic)
    assert _leftovers(tmp_path / "cache") == sorted(synthetic)
    assert requested[:2] == [f"{www[0]}/missing/train-images-idx3-ubyte.gz",
                             f"{www[0]}/good/train-images-idx3-ubyte.gz"]


def test_every_mirror_failing_lists_every_url(tmp_path: Path, www: tuple[str, Path],
                                              synthetic: dict[str, str],
                                              requested: list[str]) -> None:
    mirrors = [f"{www[0]}/one/", f"{www[0]}/two/"]
    with pytest.raises(DataError) as info:
        download_mnist(tmp_path / "cache", mirrors=mirrors, checksums=synthetic)
    for mirror in mirrors:
        assert f"{mirror}train-images-idx3-ubyte.gz: HTTP 404" in str(info.value)


def test_invalid_cached_file_is_replaced(tmp_path: Path, www: tuple[str, Path],
                                         synthetic: dict[str, str],
                                         requested: list[str]) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"stale")
    download_mnist(cache, mirrors=[f"{www[0]}/good/"], checksums=synthetic)
    assert uncompressed_md5(cache / "t10k-labels-idx1-ubyte.gz") == synthetic[
        "t10k-labels-idx1-ubyte.gz"]


def test_real_mnist_files_download(tmp_path: Path, mnist_dir: Path, www: tuple[str, Path],
                                   requested: list[str]) -> None:
    mirror = www[1] / "mnist"
    shutil.copytree(mnist_dir, mirror, ignore=shutil.ignore_patterns("*.md"))
    cache = download_mnist(tmp_path / "cache", mirrors=[f"{www[0]}/mnist/"])
    assert _leftovers(cache) == sorted(MNIST_MD5)
    assert len(requested) == 4


def test_no_mirrors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="mirrors is empty"):
        download_mnist(tmp_path, mirrors=[])


def test_cache_dir_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LAYERNET_CACHE", str(tmp_path / "ln"))
    assert default_cache_dir() == tmp_path / "ln" / "mnist"
    monkeypatch.delenv("LAYERNET_CACHE")
    assert default_cache_dir() == tmp_path / "xdg" / "layernet" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "layernet" / "mnist"
