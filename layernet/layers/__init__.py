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
from .dense import Dense as Dense
from .dropout import Dropout as Dropout
from .reshape import Flatten as Flatten
from .reshape import Reshape as Reshape

__all__ = ["LAYERS", "Dense", "Dropout", "Flatten", "Layer", "LeakyReLU", "ReLU", "Reshape",
           "Sigmoid", "Softmax", "Tanh", "layer_config", "layer_from_config", "register_layer"]
