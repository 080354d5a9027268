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

#: Most classes drawn in ``confusion.png`` (a count in every cell).
CONFUSION_CLASSES = 50
#: How to get matplotlib when it is missing.
INSTALL_HINT = "pip install matplotlib, or pip install -e '.[plot]' in a layernet clone"


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure(width: float, height: float, **margins: float) -> Figure:
    """A ``width`` × ``height`` inch figure with fixed ``margins`` (``subplots_adjust`` fractions):
    a layout engine would measure every label again on each draw, for figures whose layout never
    changes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    figure.subplots_adjust(**margins)
    return figure


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
    figure = _figure(10, 4, left=0.07, right=0.98, bottom=0.13, top=0.9, wspace=0.22)
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
    figure = _figure(6, 5.5, left=0.1, right=0.97, bottom=0.1, top=0.93)
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
    tiles = np.stack([_scaled(_as_square(images[index]), 0.0) for index in wrong]) if len(wrong) else None
    labels = [f"pred {predicted[index]} / true {true[index]}" for index in wrong]
    figure = _tile_figure(tiles, labels, columns=6, tile_inches=(1.4, 1.6), cmap="gray_r", low=0.0,
                          empty="no misclassified images")
    figure.suptitle("misclassified test images")
    return _save(figure, path)


def plot_first_layer(weight: npt.NDArray[Any], path: Path, limit: int = 64) -> Path:
    """Each of the first ``limit`` units of a ``(784, units)`` weight matrix as a 28×28 picture.

    Each picture has its own symmetric colour scale (red positive, blue negative).
    """
    units = min(weight.shape[1], limit)
    tiles = np.stack([_scaled(_as_square(weight[:, unit]), -1.0) for unit in range(units)])
    figure = _tile_figure(tiles, [f"unit {unit}" for unit in range(units)], columns=min(units, 8),
                          tile_inches=(1.3, 1.4), cmap="RdBu_r", low=-1.0, empty="no units")
    figure.suptitle(first_layer_title(units, int(weight.shape[1])))
    return _save(figure, path)


def first_layer_title(shown: int, total: int) -> str:
    """The title of ``first_layer.png``: which units it shows out of how many."""
    which = f"all {total} units" if shown == total else f"the first {shown} of {total} units"
    return f"first Dense layer weights: {which} (red +, blue −)"


def _as_square(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    side = math.isqrt(values.size)
    return values.reshape(side, side) if side * side == values.size else values.reshape(1, -1)


def _scaled(picture: npt.NDArray[Any], low: float) -> npt.NDArray[np.float64]:
    """``picture`` mapped onto ``[low, 1]``: ``[0, 1]`` from its range, or ``[-1, 1]`` symmetric about 0.
    Non-finite values become NaN (drawn blank) and do not count towards the range."""
    values = np.asarray(picture, dtype=np.float64)
    values = np.where(np.isfinite(values), values, np.nan)
    finite = values[~np.isnan(values)]
    if not finite.size:
        return values
    if low < 0:
        return values / (float(np.abs(finite).max()) or 1.0)
    lowest = float(finite.min())
    return (values - lowest) / ((float(finite.max()) - lowest) or 1.0)


def _tile_figure(tiles: npt.NDArray[Any] | None, labels: list[str], *, columns: int,
                 tile_inches: tuple[float, float], cmap: str, low: float, empty: str) -> Figure:
    """One image of ``tiles`` ``(n, height, width)`` laid out ``columns`` wide, each labelled above.

    Drawn as a single picture on one axes (not one axes per tile), so a grid of 64
    pictures costs about as much to draw as one. ``tiles`` is ``None`` when there is nothing
    to show; ``empty`` then says so.
    """
    count = 0 if tiles is None else len(tiles)
    rows = max(1, math.ceil(count / columns))
    top = 1 - 0.45 / (rows * tile_inches[1])  # room for the title
    figure = _figure(columns * tile_inches[0], rows * tile_inches[1], left=0.01, right=0.99, bottom=0.01, top=top)
    axes = figure.subplots()
    axes.axis("off")
    if tiles is None:
        axes.text(0.5, 0.5, empty, ha="center", va="center")
        return figure
    height, width = tiles.shape[1:]
    gap_x, gap_y = max(2, width // 6), max(2, height // 3)
    canvas = np.full((rows * (height + gap_y), columns * (width + gap_x) - gap_x), np.nan)
    for index, (tile, label) in enumerate(zip(tiles, labels)):
        top = (index // columns) * (height + gap_y) + gap_y
        left = (index % columns) * (width + gap_x)
        canvas[top:top + height, left:left + width] = tile
        axes.text(left + width / 2, top - 1, label, ha="center", va="bottom", fontsize=7)
    colours = _colormap(cmap)
    axes.imshow(canvas, cmap=colours, vmin=low, vmax=1.0, interpolation="nearest")
    return figure


def _colormap(name: str) -> Any:
    """The matplotlib colour map ``name``, with blank (NaN) cells drawn white."""
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="white")
