"""BLAS threads: how many the linear-algebra library uses, chosen deliberately (threadpoolctl).

Small models are faster with one BLAS thread on a small machine (the threads
spend more time synchronising than multiplying); ``docs/cli.md`` (Threads) has
the measured figures behind :func:`default_threads`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

from .. import checks

#: Models with fewer parameters than this train faster with one BLAS thread (measured).
SMALL_MODEL_PARAMETERS = 1_000_000
#: Batches of at most this many rows train faster with one BLAS thread (measured).
SMALL_BATCH = 256


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(parameters: int, batch_size: int | str) -> int:
    """The measured policy: one BLAS thread for small models (fewer than
    :data:`SMALL_MODEL_PARAMETERS` parameters, or batches of at most :data:`SMALL_BATCH` rows);
    otherwise every available core."""
    small_batch = isinstance(batch_size, int) and batch_size <= SMALL_BATCH
    if parameters < SMALL_MODEL_PARAMETERS or small_batch:
        return 1
    return available_cores()


@contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` BLAS threads (None: leave the library's setting)."""
    if threads is None:
        yield
        return
    checks.integer("threads", threads, min=1)
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries numpy loaded: ``[{"name", "version", "threads", "architecture"}, ...]``
    (``architecture``: the CPU kernel set, e.g. OpenBLAS's ``SkylakeX`` or ``Haswell``, None when
    the library does not say; like the thread count it changes the last bits of the results)."""
    return [{"name": str(pool.get("internal_api")), "version": pool.get("version"),
             "threads": int(pool.get("num_threads", 0)), "architecture": pool.get("architecture")}
            for pool in threadpool_info() if pool.get("user_api") == "blas"]
