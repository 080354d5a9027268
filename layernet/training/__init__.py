"""Training: settings, the fit loop, callbacks, metrics, history and checkpoints.

The ``train.early_stopping`` settings dataclass is exported as
``EarlyStoppingSettings``; the name ``EarlyStopping`` is the callback.
"""

from .callbacks import BatchLogs as BatchLogs
from .callbacks import Callback as Callback
from .callbacks import EarlyStopping as EarlyStopping
from .checkpoint import Checkpoint as Checkpoint
from .checkpoint import load_checkpoint as load_checkpoint
from .checkpoint import restore_checkpoint as restore_checkpoint
from .checkpoint import save_checkpoint as save_checkpoint
from .fitting import fit as fit
from .history import History as History
from .metrics import Evaluation as Evaluation
from .settings import DataSettings as DataSettings
from .settings import EarlyStopping as EarlyStoppingSettings
from .settings import TrainSettings as TrainSettings
from .trainer import Trainer as Trainer
from .trainer import TrainingDivergedError as TrainingDivergedError

__all__ = [
    "BatchLogs", "Callback", "Checkpoint", "DataSettings", "EarlyStopping", "EarlyStoppingSettings",
    "Evaluation", "History", "TrainSettings", "Trainer", "TrainingDivergedError", "fit",
    "load_checkpoint", "restore_checkpoint", "save_checkpoint",
]
