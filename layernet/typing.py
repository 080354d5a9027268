"""Public type aliases of layernet, for users' own layers and scripts (``from layernet.typing import Array``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import InvalidArgument

#: A floating-point array (float32 or float64), batch-first.
Array = npt.NDArray[np.floating[Any]]
#: A numpy dtype specification accepted by layernet: ``np.float32`` or ``np.float64``.
DType = type[np.floating[Any]] | np.dtype[Any] | str
#: A shape without the batch dimension, e.g. ``(784,)`` or ``(28, 28)``.
Shape = tuple[int, ...]


def float_dtype(dtype: DType) -> np.dtype[np.floating[Any]]:
    """Return ``dtype`` as a numpy float dtype, refusing anything but float32/float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise InvalidArgument("dtype", dtype, "float32 or float64") from None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidArgument("dtype", str(resolved), "float32 or float64")
    return resolved
