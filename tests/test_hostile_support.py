"""Builders of valid and hostile files for the hostile-input catalogue, the memory tests and the fuzzers."""

from __future__ import annotations

import functools
import gzip
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import layernet as ln
from layernet.data.csv import write_kaggle_csv
from layernet.data.idx import write_idx
from layernet.io.checkpoints import save_checkpoint
from layernet.training import Trainer

#: A valid run config small enough to train in a blink on a few synthetic digits.
CONFIG = """\
model:
  input_shape: [784]
  seed: 0
  layers:
    - {type: Dense, units: 10}
    - Softmax
loss: CrossEntropy
optimizer: {type: Adam, lr: 0.01}
train: {epochs: 1, batch_size: 8}
data: {source: sample, limit: 40}
"""


def digits(n: int = 12, seed: int = 0) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """``n`` random 28×28 uint8 images and labels 0-9."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def npy(shape: tuple[Any, ...], descr: str = "<f8", data: bytes | None = None,
        fortran: bool = False, version: tuple[int, int] = (1, 0)) -> bytes:
    """The bytes of a ``.npy`` file declaring ``shape``/``descr``, followed by ``data``
    (by default zeros of the declared size, when that is small)."""
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran, "shape": shape}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, header)
    else:
        np.lib.format.write_array_header_2_0(buffer, header)
    if data is None:
        data = bytes(int(np.prod(shape)) * np.dtype(descr).itemsize)
    return buffer.getvalue() + data


def array_npy(array: npt.ArrayLike) -> bytes:
    """``array`` saved as ``.npy`` bytes (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_zip(path: Path, members: dict[str, bytes], *, compress: bool = False) -> Path:
    """A zip archive of ``members`` (name -> bytes) at ``path``."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def members_of(path: Path) -> dict[str, bytes]:
    """The raw members of the zip archive ``path``."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


#: Zero bytes per reusable deflate segment.
_BLOCK = 1 << 24


@functools.lru_cache(maxsize=None)
def _zeros_segment() -> bytes:
    """``_BLOCK`` zero bytes deflated and fully flushed: independent of what precedes it, so
    copies of it can be chained (1 GiB of zeros costs one 16 MiB compression)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(bytes(_BLOCK)) + compressor.flush(zlib.Z_FULL_FLUSH)


def deflated(prefix: bytes, zeros: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``prefix`` then ``zeros`` zero bytes, and its CRC-32."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks, rest = divmod(zeros, _BLOCK)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = head + _zeros_segment() * blocks + tail.compress(bytes(rest)) + tail.flush()
    return stream, _zeros_crc(zlib.crc32(prefix), blocks, rest)


@functools.lru_cache(maxsize=None)
def _zeros_crc(start: int, blocks: int, rest: int) -> int:
    crc = start
    block = bytes(_BLOCK)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(bytes(rest), crc)


def crafted_member(path: Path, name: str, stream: bytes, size: int, crc: int,
                   others: dict[str, bytes]) -> Path:
    """An archive whose first member ``name`` is the deflate ``stream``, declared in both zip
    headers as ``size`` bytes with CRC ``crc`` (true or not); the stored ``others`` follow."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(info, b"")
        for other, content in others.items():
            archive.writestr(other, content)
    raw = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", raw[26:30])
    start = 30 + name_length + extra_length
    old_size = struct.unpack("<I", raw[18:22])[0]
    raw[start:start + old_size] = stream
    raw[14:26] = struct.pack("<III", crc, len(stream), size)
    shift = len(stream) - old_size
    end = raw.rindex(b"PK\x05\x06")
    count = struct.unpack("<H", raw[end + 10:end + 12])[0]
    central = struct.unpack("<I", raw[end + 16:end + 20])[0] + shift
    raw[end + 16:end + 20] = struct.pack("<I", central)
    position = central
    for index in range(count):
        assert raw[position:position + 4] == b"PK\x01\x02"
        if index == 0:
            raw[position + 16:position + 28] = struct.pack("<III", crc, len(stream), size)
        else:
            offset = struct.unpack("<I", raw[position + 42:position + 46])[0]
            raw[position + 42:position + 46] = struct.pack("<I", offset + shift)
        lengths = struct.unpack("<HHH", raw[position + 28:position + 34])
        position += 46 + sum(lengths)
    path.write_bytes(bytes(raw))
    return path


def zip_bomb_member(path: Path, name: str, header: bytes, zeros: int, others: dict[str, bytes]) -> Path:
    """An archive whose member ``name`` honestly holds ``header`` then ``zeros`` zero bytes,
    deflated (1 GiB of zeros becomes about 1 MB), beside the stored members ``others``."""
    stream, crc = deflated(header, zeros)
    return crafted_member(path, name, stream, len(header) + zeros, crc, others)


def lying_member(path: Path, name: str, declared: bytes, actual_zeros: int,
                 others: dict[str, bytes], actual_prefix: bytes | None = None) -> Path:
    """An archive whose first member ``name`` declares the content ``declared`` (size and CRC)
    in the zip headers but whose deflated data is ``actual_prefix`` (default ``declared``)
    then ``actual_zeros`` zero bytes; the stored members ``others`` follow it."""
    stream, _ = deflated(declared if actual_prefix is None else actual_prefix, actual_zeros)
    return crafted_member(path, name, stream, len(declared), zlib.crc32(declared), others)


def idx_bytes(magic: tuple[int, int], dims: tuple[int, ...], body: bytes) -> bytes:
    """An IDX file: type code and dimension count ``magic``, sizes ``dims``, then ``body``."""
    return bytes([0, 0, *magic]) + struct.pack(f">{len(dims)}I", *dims) + body


def gzip_of(data: bytes) -> bytes:
    """``data`` gzip-compressed, deterministically."""
    return gzip.compress(data, mtime=0)


def gzip_zeros(prefix: bytes, zeros: int) -> bytes:
    """A gzip stream of ``prefix`` then ``zeros`` zero bytes, built without holding them."""
    stream, crc = deflated(prefix, zeros)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + stream + struct.pack("<II", crc, (len(prefix) + zeros) & 0xFFFFFFFF)


def mnist_dir(directory: Path, n: int = 12, test: bool = True) -> Path:
    """A small valid MNIST-format directory (gzip files)."""
    directory.mkdir(parents=True, exist_ok=True)
    x, y = digits(n)
    write_idx(directory / "train-images-idx3-ubyte.gz", x)
    write_idx(directory / "train-labels-idx1-ubyte.gz", y.astype(np.uint8))
    if test:
        write_idx(directory / "t10k-images-idx3-ubyte.gz", x[:4])
        write_idx(directory / "t10k-labels-idx1-ubyte.gz", y[:4].astype(np.uint8))
    return directory


def kaggle_csv(path: Path, n: int = 6) -> Path:
    """A small valid labelled Kaggle CSV file."""
    x, y = digits(n)
    return write_kaggle_csv(path, x, y)


def data_npz(path: Path, n: int = 12) -> Path:
    """A small valid data archive with x, y, x_test, y_test."""
    x, y = digits(n)
    np.savez_compressed(path, x=x, y=y, x_test=x[:4], y_test=y[:4])
    return path


def small_digit_model() -> ln.Sequential:
    """A 784-10 softmax model (evaluable on the sample digits)."""
    return ln.Sequential([ln.Dense(10), ln.Softmax()], input_shape=(784,), seed=0)


def model_file(path: Path) -> Path:
    """A valid model file with preprocessing."""
    small_digit_model().save(path, preprocessing={"shift": 0.0, "scale": 1 / 255})
    return path


def checkpoint_trainer(optimizer: str = "Adam") -> Trainer:
    """A trainer of a 784-10 model, trained one epoch on a few digits."""
    model = small_digit_model()
    opt = ln.Adam(model.parameters(), lr=0.01) if optimizer == "Adam" else ln.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(model, ln.CrossEntropy(), opt,
                      settings=ln.training.TrainSettings(epochs=1, batch_size=4))
    x, y = digits(8)
    trainer.fit(ln.Dataset(x.reshape(8, -1).astype(np.float32) / 255, y))
    return trainer


def checkpoint_file(path: Path) -> Path:
    """A valid checkpoint after one epoch of Adam."""
    save_checkpoint(path, checkpoint_trainer())
    return path


def replace_members(path: Path, out: Path, **changes: bytes | None) -> Path:
    """``path``'s members with some replaced (``name.npy`` keys as ``name``; None removes)."""
    members = members_of(path)
    for key, data in changes.items():
        name = key.replace("__", "/") + ".npy"
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    return write_zip(out, members)


def state_of(path: Path) -> dict[str, Any]:
    """The decoded ``state`` JSON of a checkpoint."""
    with np.load(path, allow_pickle=False) as npz:
        value: dict[str, Any] = json.loads(str(npz["state"]))
    return value


def text_npy(text: str) -> bytes:
    """A 0-d unicode ``.npy`` holding ``text``."""
    return array_npy(np.array(text))


def declaring(path: Path, out: Path, config: dict[str, Any], key: str = "config") -> Path:
    """The model file or checkpoint ``path`` rewritten to ``out`` with its stored model config
    (``key``: ``config``, or ``config/model`` in a checkpoint) replaced by ``config``; the
    weights stay those of the small model."""
    return replace_members(path, out, **{key.replace("/", "__"): text_npy(json.dumps(config))})


def stack_config(layers: list[dict[str, Any]], input_shape: tuple[int, ...] = (784,)) -> dict[str, Any]:
    """A stored model config of ``layers`` (each ``{"type": ..., ...}``) after ``input_shape``."""
    return {"input_shape": list(input_shape), "dtype": "float32", "seed": 0, "layers": layers}


def zero_weights_file(path: Path, kind: str, units: int, size: int = 2**20 - 2**14) -> Path:
    """A ``kind`` (``"model"`` or ``"checkpoint"``) file of a 784-``units`` softmax model whose
    weights (and optimiser moments) are honest zeros, deflated, in a file padded to ``size``
    bytes by a member no reader inflates: as many genuine weights as a file of ``size`` may declare."""
    small = model_file(path.with_suffix(".small.npz")) if kind == "model" else checkpoint_file(
        path.with_suffix(".small.npz"))
    members = members_of(small)
    small.unlink()
    key = "config" if kind == "model" else "config/model"
    config = json.loads(str(np.load(io.BytesIO(members[key + ".npy"]), allow_pickle=False)))
    config["layers"][0]["units"] = units
    members[key + ".npy"] = text_npy(json.dumps(config))
    zeros = {"weights/layers.0.weight": (784, units), "weights/layers.0.bias": (units,)}
    if kind == "checkpoint":
        zeros.update({f"optimizer/{slot}": (785 * units,) for slot in ("exp_avg", "exp_avg_sq")})
    members.update({name + ".npy": npy(shape, "<f4") for name, shape in zeros.items()})
    write_zip(path, members, compress=True)
    padding = size - path.stat().st_size - 200
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("padding.npy", np.random.default_rng(0).bytes(max(padding, 0)))
    return path
