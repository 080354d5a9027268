"""Build the embedded MNIST sample in ``layernet/data/sample/`` from the full MNIST files.

The selection is deterministic: the first 10,000 rows of the training set
and the first 2,000 rows of the test set, in their original order. The output
is four gzip IDX files whose gzip headers carry no name or time, so the same
input gives the same uncompressed bytes (and, with the same zlib, the same
gzip bytes). The script prints each file's size and md5s.

Usage:
    python scripts/make_sample.py [--source ../shared/data/mnist] [--out layernet/data/sample]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from layernet.data._files import uncompressed_md5
from layernet.data.idx import read_idx, write_idx
from layernet.data.mnist_format import MNIST_FILES, find_idx_file
from layernet.errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Rows taken from the start of each file: train-* files, then t10k-* files.
COUNTS = {"train": 10_000, "t10k": 2_000}


def build_sample(source: Path, out: Path) -> list[Path]:
    """Write the first ``COUNTS`` rows of each MNIST file in ``source`` to ``out``; return paths."""
    written = []
    for stem in MNIST_FILES:
        found = find_idx_file(source, stem)
        if found is None:
            raise DataError(f"{source}: missing {stem}[.gz]; pass --source <full MNIST folder>")
        rows = COUNTS[stem.split("-")[0]]
        written.append(write_idx(out / f"{stem}.gz", read_idx(found)[:rows]))
    return written


def describe(path: Path) -> str:
    """``name  size  md5(gz)  md5(uncompressed)`` for one written file."""
    gz_md5 = hashlib.md5(path.read_bytes()).hexdigest()
    return (f"{path.name:28s} {path.stat().st_size:>9,d} bytes  md5(gz) {gz_md5}  "
            f"md5(uncompressed) {uncompressed_md5(path)}")


def main() -> None:
    """Parse the command line, build the sample and print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path,
                        default=REPO_ROOT.parent / "shared" / "data" / "mnist")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "layernet" / "data" / "sample")
    args = parser.parse_args()
    paths = build_sample(args.source, args.out)
    for path in paths:
        print(describe(path))
    print(f"total {sum(path.stat().st_size for path in paths):,d} bytes")


if __name__ == "__main__":
    main()
