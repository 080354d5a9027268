"""layernet: a small, typed, configurable neural-network framework on numpy.

Arrays are row-major and batch-first, ``(batch, features)``, float32 unless a
model is built with ``dtype=np.float64``. Every layer, loss and optimiser is
an object with a hand-written ``forward``/``backward`` (no autograd).
"""

from .errors import ConfigError as ConfigError
from .errors import DataError as DataError
from .errors import LayernetError as LayernetError
from .errors import ModelFileError as ModelFileError
from .errors import ShapeError as ShapeError
from .gradcheck import GradcheckReport as GradcheckReport
from .gradcheck import GradientCheckError as GradientCheckError
from .gradcheck import gradcheck as gradcheck
from .initializers import INITIALIZERS as INITIALIZERS
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

__version__ = "0.1.0"

__all__ = [
    "INITIALIZERS", "LAYERS", "LOSSES", "MSE", "OPTIMIZERS", "SGD", "Adam", "AdamW",
    "BinaryCrossEntropy", "ConfigError", "CrossEntropy", "DataError", "Dense", "Dropout",
    "Flatten", "GradcheckReport", "GradientCheckError", "Initializer", "Layer", "LayernetError",
    "LeakyReLU", "Loss", "ModelFileError", "Optimizer", "Parameter", "ReLU", "Reshape",
    "Sequential", "ShapeError", "Sigmoid", "Softmax", "Tanh", "__version__", "gradcheck",
    "register_layer",
]
