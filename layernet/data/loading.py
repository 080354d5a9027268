"""Turn a ``data`` section (or a path given for prediction) into preprocessed datasets.

A data source is one of:

* ``"sample"``: the MNIST sample embedded in the package (10,000 + 2,000 digits);
* ``"mnist"``: full MNIST, downloaded once into the cache (see ``download_mnist``);
* a directory of MNIST-format IDX files (``train-*`` and optionally ``t10k-*``);
* a Kaggle digit-recognizer ``.csv`` file (no test split of its own);
* an ``.npz`` file with ``x``, ``y`` and optionally ``x_test``, ``y_test``;
* for prediction inputs only, also a single IDX images file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..atomic import special_file
from ..errors import DataError
from .csv import read_kaggle_csv
from .dataset import DataSplits, Dataset
from .download import download_mnist
from .embedded import load_sample
from .mnist_format import load_mnist_dir, read_idx_images
from .npz import load_npz
from .preprocess import normalization, prepare
from .settings import DataSettings

ACCEPTED_FORMS = ("'sample', 'mnist', a directory of MNIST-format IDX files, a Kaggle .csv "
                  "file, or an .npz file with arrays x and y")


def check_source(spec: str) -> None:
    """Raise :class:`DataError` unless ``spec`` names an accepted source that exists (reads nothing)."""
    if spec in ("sample", "mnist"):
        return
    path = Path(spec).expanduser()
    try:
        if path.is_dir() or (path.is_file() and path.suffix.lower() in (".csv", ".npz")):
            return
    except OSError as error:  # e.g. a name too long for the file system
        raise DataError(f"data source {shorten(spec)}: {error.strerror or error}; use "
                        f"{ACCEPTED_FORMS}") from None
    special = special_file(path)
    problem = (f"is {special}, not a file" if special else
               "unknown kind of file" if path.exists() else "no such file or directory")
    raise DataError(f"data source {shorten(spec)}: {problem}; use {ACCEPTED_FORMS}")


def shorten(text: str, limit: int = 200) -> str:
    """``repr(text)``, cut to about ``limit`` characters (a path in a message stays one short line)."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(text):,} characters)"


def read_source(spec: str, *, require_labels: bool = True) -> DataSplits:
    """The raw (unpreprocessed) datasets a source names; see the module docstring for the forms.

    Raises:
        DataError: the source is not one of the accepted forms, or its files are bad.
    """
    check_source(spec)
    if spec == "sample":
        return load_sample()
    if spec == "mnist":
        return load_mnist_dir(download_mnist())
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_mnist_dir(path)
    if path.suffix.lower() == ".csv":
        return DataSplits(read_kaggle_csv(path), None)
    return load_npz(path, require_labels=require_labels)


def load_data(settings: DataSettings, *, shape: Sequence[int] | None = None) -> DataSplits:
    """Load, check and preprocess the training (and test) data a ``data`` section describes.

    Training rows are cut to ``settings.limit``, normalisation statistics are
    fitted on those training rows and applied to both splits, and samples are
    flattened to ``(784,)`` or kept as ``(28, 28)`` per ``settings.flatten`` — or, given the
    model's input ``shape`` (e.g. ``(1, 28, 28)``), reshaped to it when the sizes match.
    ``settings.test`` names a separate test source: its test part if it has
    one (a directory's ``t10k`` files, an npz's ``x_test``), else all of it.

    Returns:
        ``DataSplits``: ``train`` ``(n, *sample_shape)`` with labels ``(n,)``;
        ``test`` likewise, or None when no test data is available (a CSV source).

    Raises:
        DataError: a source is unknown or malformed, unlabelled, or the two
            splits have different sample shapes.
    """
    splits = read_source(settings.source)
    train = _labelled(splits.train, "training")
    if settings.limit is not None:
        train = train.subset(slice(0, settings.limit))
    test = splits.test if settings.test is None else _test_part(read_source(settings.test))
    shift, scale = normalization(settings.normalize, train)
    given = None if shape is None else tuple(shape)
    train = prepare(train, flatten=settings.flatten, shape=given, shift=shift, scale=scale)
    if test is None:
        return DataSplits(train, None)
    test = prepare(_labelled(test, "test"), flatten=settings.flatten, shape=given, shift=shift, scale=scale)
    if test.sample_shape != train.sample_shape:
        raise DataError(f"test data {test.name} has samples of shape {test.sample_shape}, "
                        f"training data {train.sample_shape}; they must match")
    return DataSplits(train, test)


def load_inputs(spec: str | Path, *, flatten: bool = True, shape: Sequence[int] | None = None,
                shift: float = 0.0, scale: float = 1.0 / 255.0) -> Dataset:
    """Samples to predict on, preprocessed like the training data.

    Args:
        spec: a Kaggle ``.csv`` (with or without ``label``), an ``.npz`` (``x``,
            ``y`` optional), a single IDX images file, an MNIST-format directory
            or ``"sample"`` (their test part: ``t10k``), or an npz's ``x_test``.
        flatten: give samples as ``(784,)`` rather than ``(28, 28)``.
        shape: the model's input shape; samples are reshaped to it (overrides ``flatten``).
        shift, scale: the training normalisation (``Dataset.shift``/``scale`` of
            the training set the model was fitted on); the default is ``x / 255``.

    Returns:
        A Dataset ``(n, *sample_shape)``; ``y`` ``(n,)`` when the input has labels, else None.
    """
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix.lower() not in (".csv", ".npz"):
        data = Dataset(read_idx_images(path), None, name=str(path))
    else:
        data = _test_part(read_source(str(spec), require_labels=False))
    return prepare(data, flatten=flatten, shape=None if shape is None else tuple(shape),
                   shift=shift, scale=scale)


def _test_part(splits: DataSplits) -> Dataset:
    return splits.test if splits.test is not None else splits.train


def _labelled(data: Dataset, role: str) -> Dataset:
    if data.y is None:
        raise DataError(f"{data.name}: has no labels, but {role} data needs them (a Kaggle CSV "
                        "needs a 'label' column; an npz needs 'y')")
    return data
