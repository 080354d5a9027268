"""layernet: a small, typed, configurable neural-network framework on numpy.

Arrays are row-major and batch-first, ``(batch, features)``, float32 unless a
model is built with ``dtype=np.float64``. Every layer, loss and optimiser is
an object with a hand-written ``forward``/``backward`` (no autograd).
"""

from . import data as data
from .config import RunConfig as RunConfig
from .config import load_run_config as load_run_config
from .config import model_from_yaml as model_from_yaml
from .config import model_to_yaml as model_to_yaml
from .config import validate_config as validate_config
from .data import Dataset as Dataset
from .data import DataSplits as DataSplits
from .data import download_mnist as download_mnist
from .data import load_data as load_data
from .data import load_inputs as load_inputs
from .data import load_sample as load_sample
from .errors import ConfigError as ConfigError
from .errors import DataError as DataError
from .errors import LayernetError as LayernetError
from .errors import ModelFileError as ModelFileError
from .errors import ShapeError as ShapeError
from .gradcheck import GradcheckReport as GradcheckReport
from .gradcheck import GradientCheckError as GradientCheckError
from .gradcheck import gradcheck as gradcheck
from .initializers import INITIALIZERS as INITIALIZERS
from .io import load_model as load_model
from .io import save_model as save_model
from .initializers import Initializer as Initializer
from .layers import LAYERS as LAYERS
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
from .model import Sequential as Sequential
from .optimizers import OPTIMIZERS as OPTIMIZERS
from .optimizers import SGD as SGD
from .optimizers import Adam as Adam
from .optimizers import AdamW as AdamW
from .optimizers import Optimizer as Optimizer
from .parameter import Parameter as Parameter
from .schedules import SCHEDULES as SCHEDULES
from .schedules import Constant as Constant
from .schedules import CosineDecay as CosineDecay
from .schedules import ExponentialDecay as ExponentialDecay
from .schedules import Schedule as Schedule
from .schedules import StepDecay as StepDecay
from .training import Callback as Callback
from .training import Checkpoint as Checkpoint
from .training import DataSettings as DataSettings
from .training import EarlyStopping as EarlyStopping
from .training import Evaluation as Evaluation
from .training import History as History
from .training import Trainer as Trainer
from .training import TrainingDivergedError as TrainingDivergedError
from .training import TrainSettings as TrainSettings
from .training import fit as fit
from .training import load_checkpoint as load_checkpoint
from .training import save_checkpoint as save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "__version__", "Adam", "RunConfig", "load_run_config", "model_from_yaml", "model_to_yaml",
    "validate_config", "AdamW", "BinaryCrossEntropy", "Callback", "Checkpoint", "ConfigError",
    "Constant", "CosineDecay", "CrossEntropy", "data", "DataError", "Dataset", "DataSettings",
    "DataSplits", "Dense", "download_mnist", "Dropout", "EarlyStopping", "Evaluation",
    "ExponentialDecay", "fit", "Flatten", "gradcheck", "GradcheckReport", "GradientCheckError",
    "History", "Initializer", "INITIALIZERS", "Layer", "LayernetError", "LAYERS", "LeakyReLU",
    "load_checkpoint", "load_data", "load_inputs", "load_model", "load_sample", "Loss", "LOSSES",
    "ModelFileError", "MSE", "Optimizer", "OPTIMIZERS", "Parameter", "register_layer", "ReLU",
    "Reshape", "save_checkpoint", "save_model", "Schedule", "SCHEDULES", "Sequential", "SGD",
    "ShapeError", "Sigmoid", "Softmax", "StepDecay", "Tanh", "Trainer", "TrainingDivergedError",
    "TrainSettings",
]
