"""The ``data`` section of a run config, as a typed dataclass (ranges enforced on creation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .. import checks
from ..checks import bounds


@dataclass(frozen=True)
class DataSettings:
    """What to train on: the ``data`` section.

    Attributes:
        source: ``"sample"`` (the embedded MNIST sample), ``"mnist"`` (full
            MNIST, downloaded and cached), a directory of MNIST-format IDX
            files, a Kaggle-style ``.csv`` or an ``.npz`` with ``x`` and ``y``.
        test: a separate labelled test set (same forms as ``source``); by
            default the test part of ``source`` when it has one.
        normalize: ``"scale"`` divides pixels by 255 (the seeds);
            ``"standardize"`` also subtracts the training mean and divides by
            the training standard deviation; ``"none"`` keeps raw values.
        flatten: give the model ``(batch, 784)`` rows rather than ``(batch, 28, 28)`` images.
        limit: use only the first N training rows (quick experiments; ≥ 1).
    """

    source: str = "sample"
    test: str | None = None
    normalize: Literal["scale", "standardize", "none"] = "scale"
    flatten: bool = True
    limit: int | None = field(default=None, metadata=bounds(min=1))

    def __post_init__(self) -> None:
        checks.check_fields(self)
