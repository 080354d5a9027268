"""PNG plots of a run: learning curves, confusion matrix, misclassified digits, first-layer weights.

Needs the ``plot`` extra (matplotlib). :func:`matplotlib_available` tells
whether it is installed; every function here writes one PNG file atomically
and returns its path.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: How to get matplotlib when it is missing.
INSTALL_HINT = "pip install matplotlib, or pip install -e '.[plot]' in a layernet clone"


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically."""
    with atomic_write(path) as handle:
        figure.savefig(handle, format="png")
    return path


def plot_history(history: dict[str, list[float]], path: Path) -> Path:
    """Loss and accuracy per epoch, train and validation, side by side.

    Args:
        history: columns ``epoch``, ``loss``, ``accuracy`` and optionally
            ``val_loss``, ``val_accuracy`` (lists of equal length).
        path: the PNG to write.
    """
    figure = _figure(10, 4)
    epochs = history["epoch"]
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = history.get(prefix + metric)
            if values and not all(math.isnan(v) for v in values):
                axes.plot(epochs, values, marker="o", markersize=3, label=label)
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    return _save(figure, path)


def plot_confusion(confusion: npt.NDArray[Any], path: Path) -> Path:
    """Confusion matrix ``(classes, classes)`` (rows: true label, columns: predicted) as a heat map."""
    classes = confusion.shape[0]
    figure = _figure(6, 5.5)
    axes = figure.subplots()
    image = axes.imshow(confusion, cmap="Blues")
    figure.colorbar(image, ax=axes)
    threshold = confusion.max() / 2 if confusion.size else 0
    for (row, col), count in np.ndenumerate(confusion):
        axes.text(col, row, str(count), ha="center", va="center", fontsize=7,
                  color="white" if count > threshold else "black")
    axes.set_xticks(range(classes))
    axes.set_yticks(range(classes))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("confusion matrix (test)")
    return _save(figure, path)


def plot_misclassified(images: npt.NDArray[Any], true: npt.NDArray[Any], predicted: npt.NDArray[Any],
                       path: Path, limit: int = 36) -> Path:
    """A grid of up to ``limit`` misclassified images ``(n, 28, 28)`` or ``(n, 784)`` with labels."""
    wrong = np.flatnonzero(true != predicted)[:limit]
    columns = 6
    rows = max(1, math.ceil(len(wrong) / columns))
    figure = _figure(columns * 1.4, rows * 1.6)
    grid = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    for cell, index in zip(grid, wrong):
        cell.imshow(_as_square(images[index]), cmap="gray_r")
        cell.set_title(f"pred {predicted[index]} / true {true[index]}", fontsize=7)
    for cell in grid:
        cell.axis("off")
    if not len(wrong):
        grid[0].text(0.5, 0.5, "no misclassified images", ha="center")
    figure.suptitle("misclassified test images")
    return _save(figure, path)


def plot_first_layer(weight: npt.NDArray[Any], path: Path, limit: int = 64) -> Path:
    """Each of the first ``limit`` units of a ``(784, units)`` weight matrix as a 28×28 picture."""
    units = min(weight.shape[1], limit)
    columns = min(units, 8)
    rows = math.ceil(units / columns)
    figure = _figure(columns * 1.3, rows * 1.4)
    grid = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    for unit, cell in enumerate(grid):
        cell.axis("off")
        if unit < units:
            picture = _as_square(weight[:, unit])
            bound = float(np.abs(picture).max()) or 1.0
            cell.imshow(picture, cmap="RdBu_r", vmin=-bound, vmax=bound)
            cell.set_title(f"unit {unit}", fontsize=7)
    figure.suptitle(first_layer_title(units, int(weight.shape[1])))
    return _save(figure, path)


def first_layer_title(shown: int, total: int) -> str:
    """The title of ``first_layer.png``: which units it shows out of how many."""
    which = f"all {total} units" if shown == total else f"the first {shown} of {total} units"
    return f"first Dense layer weights: {which} (red +, blue −)"


def _as_square(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    side = math.isqrt(values.size)
    return values.reshape(side, side) if side * side == values.size else values.reshape(1, -1)
