"""Dataset: samples kept compact in memory, converted to the model dtype one batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import DataError
from ..model import normalize
from ..typing import Array, DType


@dataclass
class Dataset:
    """Samples ``x`` and integer labels ``y``, with the preprocessing applied per batch.

    ``x`` stays in its storage dtype (``uint8`` for images: 60,000 MNIST digits
    take 47 MB instead of 188 MB in float32); :meth:`batch` converts the rows
    it returns to the model dtype as ``(x − shift) · scale``.

    Attributes:
        x: samples, ``(n, *sample_shape)``, e.g. ``(n, 28, 28)`` uint8 or ``(n, 784)``.
        y: labels ``(n,)`` (integers), or None for an unlabelled set (prediction).
        scale: multiplier applied per batch (``1/255`` for pixels).
        shift: subtracted before scaling (the training mean for standardisation).
        name: where the data came from, for messages and reports.
    """

    x: npt.NDArray[Any]
    y: npt.NDArray[np.integer[Any]] | None
    scale: float | npt.NDArray[Any] = 1.0
    shift: float | npt.NDArray[Any] = 0.0
    name: str = ""

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample (batch excluded)."""
        return tuple(self.x.shape[1:])

    def batch(self, index: npt.NDArray[np.integer[Any]] | slice, dtype: DType = np.float32) -> Array:
        """Rows ``index`` of ``x``, preprocessed, as a ``dtype`` array ``(len(index), *sample_shape)``.

        Without preprocessing, rows already in ``dtype`` selected by a slice are
        returned as a view (no copy); preprocessing never touches ``x`` itself.
        """
        rows = self.x[index]
        return normalize(rows, self.shift, self.scale, dtype, copy=np.may_share_memory(rows, self.x))

    def batches(self, size: int, dtype: DType = np.float32) -> Iterator[tuple[slice, Array]]:
        """Rows in order, ``size`` at a time: ``(rows, batch)`` with ``batch`` ``(≤ size, *sample_shape)``."""
        for start in range(0, len(self), size):
            rows = slice(start, start + size)
            yield rows, self.batch(rows, dtype)

    @classmethod
    def from_arrays(cls, x: npt.ArrayLike, y: npt.ArrayLike | None = None, name: str = "x") -> Dataset:
        """Samples ``x`` ``(n, *sample_shape)`` and integer labels ``y`` ``(n,)`` as a Dataset.

        ``uint8`` arrays are taken to be pixels and scaled by 1/255 batch by batch
        (they stay compact in memory); float arrays are used as they are.

        Raises:
            DataError: ``x`` is not a uint8 or float array with a batch axis, or
                ``y`` is not integer labels with one per row. ``name`` is used in messages.
        """
        samples: npt.NDArray[Any] = np.asarray(x)
        if samples.ndim < 2 or not (samples.dtype == np.uint8 or samples.dtype.kind == "f"):
            raise DataError(f"{name}: expected a uint8 or float array (n, *sample_shape), "
                            f"got {samples.dtype}{list(samples.shape)}")
        scale = 1 / 255 if samples.dtype == np.uint8 else 1.0
        labels = None if y is None else labels_of(y, len(samples), name)
        return cls(samples, labels, scale=scale, name=name)

    def labels(self) -> npt.NDArray[np.integer[Any]]:
        """``y``; :class:`DataError` when the dataset has no labels."""
        if self.y is None:
            raise DataError(f"{self.name or 'the data'} has no labels; training and evaluation need y")
        return self.y

    def subset(self, index: npt.NDArray[np.integer[Any]] | slice) -> Dataset:
        """A dataset of rows ``index`` with the same preprocessing."""
        return Dataset(self.x[index], None if self.y is None else self.y[index],
                       self.scale, self.shift, self.name)


def labels_of(y: npt.ArrayLike, rows: int, name: str) -> npt.NDArray[np.integer[Any]]:
    """``y`` as integer labels ``(rows,)``; :class:`DataError` otherwise."""
    labels = np.asarray(y)
    if labels.shape != (rows,) or labels.dtype.kind not in "iu":
        raise DataError(f"{name}: labels must be integers of shape ({rows},), "
                        f"got {labels.dtype}{list(labels.shape)}")
    return labels


@dataclass
class DataSplits:
    """The training set and, when the source has one, a labelled test set.

    Attributes:
        train: the labelled training samples ``(n, *sample_shape)``.
        test: the labelled test samples ``(m, *sample_shape)``, or None.
    """

    train: Dataset
    test: Dataset | None = None


@dataclass
class SampleSplits(DataSplits):
    """:func:`layernet.load_sample`'s splits: like :class:`DataSplits`, but the test split is
    always there (typed ``Dataset``, not optional)."""

    test: Dataset
