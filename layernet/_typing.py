"""Type aliases shared across layernet."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: A floating-point array (float32 or float64), batch-first.
Array = npt.NDArray[np.floating[Any]]
#: A numpy dtype specification accepted by layernet: ``np.float32`` or ``np.float64``.
DType = type[np.floating[Any]] | np.dtype[Any] | str
#: A shape without the batch dimension, e.g. ``(784,)`` or ``(28, 28)``.
Shape = tuple[int, ...]


def float_dtype(dtype: DType) -> np.dtype[np.floating[Any]]:
    """Return ``dtype`` as a numpy float dtype, refusing anything but float32/float64."""
    resolved = np.dtype(dtype)
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {resolved}")
    return resolved
