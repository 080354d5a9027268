"""Hyperparameter sweeps: a YAML spec over any config key, Optuna search and pruning, trials
trained as run directories on a Dask cluster (a local one by default).

Needs the ``sweep`` extra (``pip install 'layernet[sweep]'``); ``docs/sweeps.md`` has the
spec, the command (``layernet sweep``) and cluster use.
"""

from .driver import SweepResult as SweepResult
from .driver import sweep as sweep
from .spec import SweepSpec as SweepSpec
from .spec import load_sweep_spec as load_sweep_spec
from .trial import PruningCallback as PruningCallback

__all__ = ["PruningCallback", "SweepResult", "SweepSpec", "load_sweep_spec", "sweep"]
