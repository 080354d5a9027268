"""Training: settings, the fit loop, callbacks, metrics and history (checkpoints: :mod:`layernet.io`).

The ``train.early_stopping`` settings dataclass is exported as
``EarlyStoppingSettings``; the name ``EarlyStopping`` is the callback.
"""

from .callbacks import BatchLogs as BatchLogs
from .callbacks import Callback as Callback
from .callbacks import EarlyStopping as EarlyStopping
from .fitting import evaluate as evaluate
from .fitting import fit as fit
from .history import History as History
from .metrics import Evaluation as Evaluation
from .progress import Progress as Progress
from .settings import EarlyStopping as EarlyStoppingSettings
from .settings import TrainSettings as TrainSettings
from .tensorboard import TensorBoard as TensorBoard
from .trainer import Trainer as Trainer

__all__ = [
    "BatchLogs", "Callback", "EarlyStopping", "EarlyStoppingSettings", "Evaluation", "History",
    "Progress", "TensorBoard", "TrainSettings", "Trainer", "evaluate", "fit",
]
