"""layernet: a small, typed, configurable neural-network framework on numpy.

Arrays are row-major and batch-first, ``(batch, features)``, float32 unless a
model is built with ``dtype=np.float64``. Every layer, loss and optimiser is
an object with a hand-written ``forward``/``backward`` (no autograd). The
package's layers and import rules are in ``docs/architecture.md``.
"""

from typing import TYPE_CHECKING, Any

from . import data as data
from . import testing as testing
from ._version import __version__ as __version__
from .config import RunConfig as RunConfig
from .config import load_run_config as load_run_config
from .config import model_from_yaml as model_from_yaml
from .config import model_to_yaml as model_to_yaml
from .config import validate_config as validate_config
from .data import Dataset as Dataset
from .data import DataSettings as DataSettings
from .data import DataSplits as DataSplits
from .data import download_mnist as download_mnist
from .data import load_data as load_data
from .data import load_inputs as load_inputs
from .data import load_sample as load_sample
from .errors import ConfigError as ConfigError
from .errors import DataError as DataError
from .errors import ExportError as ExportError
from .errors import GradientCheckError as GradientCheckError
from .errors import InvalidArgument as InvalidArgument
from .errors import LayernetError as LayernetError
from .errors import ModelFileError as ModelFileError
from .errors import ModelSizeError as ModelSizeError
from .errors import PairingError as PairingError
from .errors import ShapeError as ShapeError
from .errors import TrainingDivergedError as TrainingDivergedError
from .errors import UnknownNameError as UnknownNameError
from .export import export_onnx as export_onnx
from .gradcheck import GradcheckReport as GradcheckReport
from .gradcheck import gradcheck as gradcheck
from .initializers import INITIALIZERS as INITIALIZERS
from .initializers import Initializer as Initializer
from .io.checkpoints import Checkpoint as Checkpoint
from .io.checkpoints import load_checkpoint as load_checkpoint
from .io.checkpoints import save_checkpoint as save_checkpoint
from .io.models import load_model as load_model
from .io.models import save_model as save_model
from .layers import LAYERS as LAYERS
from .layers import AvgPool2D as AvgPool2D
from .layers import BatchNorm as BatchNorm
from .layers import Conv1D as Conv1D
from .layers import Conv2D as Conv2D
from .layers import GlobalAvgPool2D as GlobalAvgPool2D
from .layers import MaxPool2D as MaxPool2D
from .layers import Dense as Dense
from .layers import Dropout as Dropout
from .layers import Flatten as Flatten
from .layers import Layer as Layer
from .layers import LeakyReLU as LeakyReLU
from .layers import ReLU as ReLU
from .layers import Reshape as Reshape
from .layers import Sigmoid as Sigmoid
from .layers import Softmax as Softmax
from .layers import Tanh as Tanh
from .layers import register_layer as register_layer
from .losses import LOSSES as LOSSES
from .losses import MSE as MSE
from .losses import BinaryCrossEntropy as BinaryCrossEntropy
from .losses import CrossEntropy as CrossEntropy
from .losses import Loss as Loss
from .model import LayernetWarning as LayernetWarning
from .model import Preprocessing as Preprocessing
from .model import Sequential as Sequential
from .objective import Objective as Objective
from .objective import pair as pair
from .optimizers import OPTIMIZERS as OPTIMIZERS
from .optimizers import SGD as SGD
from .optimizers import Adagrad as Adagrad
from .optimizers import NAdam as NAdam
from .optimizers import RAdam as RAdam
from .optimizers import RMSprop as RMSprop
from .optimizers import Adam as Adam
from .optimizers import AdamW as AdamW
from .optimizers import Optimizer as Optimizer
from .parameter import Parameter as Parameter
from .parameter import ParameterBuffer as ParameterBuffer
from .schedules import SCHEDULES as SCHEDULES
from .schedules import Constant as Constant
from .schedules import CosineDecay as CosineDecay
from .schedules import ExponentialDecay as ExponentialDecay
from .schedules import Schedule as Schedule
from .schedules import StepDecay as StepDecay
from .training import Callback as Callback
from .training import EarlyStopping as EarlyStopping
from .training import Evaluation as Evaluation
from .training import History as History
from .training import Progress as Progress
from .training import TensorBoard as TensorBoard
from .training import Trainer as Trainer
from .training import evaluate as evaluate
from .training import TrainSettings as TrainSettings
from .training import fit as fit

if TYPE_CHECKING:
    from .sweeps import sweep as sweep


def __getattr__(name: str) -> Any:
    """``layernet.sweep``, imported on first use (its package, layernet.sweeps, is not needed to
    train, and ``import layernet`` stays fast)."""
    if name == "sweep":
        from .sweeps import sweep

        return sweep
    raise AttributeError(f"module 'layernet' has no attribute {name!r}")


__all__ = [
    "__version__", "Adagrad", "Adam", "AdamW", "AvgPool2D", "BatchNorm", "Conv1D", "Conv2D",
    "GlobalAvgPool2D", "MaxPool2D", "NAdam", "RAdam", "RMSprop", "BinaryCrossEntropy", "Callback", "Checkpoint", "ConfigError",
    "Constant", "CosineDecay", "CrossEntropy", "data", "DataError", "Dataset", "DataSettings",
    "DataSplits", "Dense", "download_mnist", "Dropout", "EarlyStopping", "evaluate", "Evaluation",
    "ExponentialDecay", "ExportError", "export_onnx", "fit", "Flatten", "gradcheck", "GradcheckReport", "GradientCheckError",
    "History", "Initializer", "INITIALIZERS", "InvalidArgument", "Layer", "LayernetError", "LAYERS",
    "LayernetWarning", "LeakyReLU", "load_checkpoint", "load_data", "load_inputs", "load_model", "load_run_config",
    "load_sample", "Loss", "LOSSES", "model_from_yaml", "model_to_yaml", "ModelFileError", "ModelSizeError", "MSE",
    "Objective", "Optimizer", "OPTIMIZERS", "pair", "PairingError", "Parameter", "ParameterBuffer", "Preprocessing", "Progress",
    "register_layer", "ReLU", "Reshape", "RunConfig", "save_checkpoint", "save_model", "Schedule",
    "SCHEDULES", "Sequential", "SGD", "ShapeError", "Sigmoid", "Softmax", "StepDecay", "sweep", "Tanh", "TensorBoard", "testing",
    "Trainer", "TrainingDivergedError", "TrainSettings", "UnknownNameError", "validate_config",
]
