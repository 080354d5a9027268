"""Layers: the base class, the registry and the built-in layers."""

from .activations import LeakyReLU as LeakyReLU
from .activations import ReLU as ReLU
from .activations import Sigmoid as Sigmoid
from .activations import Softmax as Softmax
from .activations import Tanh as Tanh
from .base import LAYERS as LAYERS
from .base import Layer as Layer
from .base import layer_config as layer_config
from .base import layer_from_config as layer_from_config
from .base import register_layer as register_layer
from .conv import Conv1D as Conv1D
from .conv import Conv2D as Conv2D
from .dense import Dense as Dense
from .dropout import Dropout as Dropout
from .normalization import BatchNorm as BatchNorm
from .pooling import AvgPool2D as AvgPool2D
from .pooling import GlobalAvgPool2D as GlobalAvgPool2D
from .pooling import MaxPool2D as MaxPool2D
from .reshape import Flatten as Flatten
from .reshape import Reshape as Reshape

__all__ = ["LAYERS", "AvgPool2D", "BatchNorm", "Conv1D", "Conv2D", "GlobalAvgPool2D", "MaxPool2D", "Dense", "Dropout", "Flatten", "Layer", "LeakyReLU", "ReLU", "Reshape",
           "Sigmoid", "Softmax", "Tanh", "layer_config", "layer_from_config", "register_layer"]
