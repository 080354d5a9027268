"""Data: readers for IDX, Kaggle CSV and npz files, the embedded sample and downloads.

:func:`load_data` turns a ``data`` config section into training and test
:class:`Dataset` objects; :func:`load_inputs` reads samples to predict on.
Samples stay in their stored dtype (uint8 for images) and are converted and
normalised one batch at a time by :meth:`Dataset.batch`.
"""

from .csv import read_kaggle_csv as read_kaggle_csv
from .csv import write_kaggle_csv as write_kaggle_csv
from .dataset import DataSplits as DataSplits
from .dataset import Dataset as Dataset
from .download import DEFAULT_MIRRORS as DEFAULT_MIRRORS
from .download import MNIST_MD5 as MNIST_MD5
from .download import default_cache_dir as default_cache_dir
from .download import download_mnist as download_mnist
from .embedded import SAMPLE_DIR as SAMPLE_DIR
from .embedded import load_sample as load_sample
from .idx import read_idx as read_idx
from .idx import write_idx as write_idx
from .loading import load_data as load_data
from .loading import load_inputs as load_inputs
from .loading import read_source as read_source
from .mnist_format import load_mnist_dir as load_mnist_dir
from .npz import load_npz as load_npz
from .preprocess import normalization as normalization
from .preprocess import prepare as prepare
from .settings import DataSettings as DataSettings

__all__ = [
    "DEFAULT_MIRRORS", "MNIST_MD5", "SAMPLE_DIR", "DataSettings", "DataSplits", "Dataset", "default_cache_dir",
    "download_mnist", "load_data", "load_inputs", "load_mnist_dir", "load_npz", "load_sample",
    "normalization", "prepare", "read_idx", "read_kaggle_csv", "read_source", "write_idx",
    "write_kaggle_csv",
]
