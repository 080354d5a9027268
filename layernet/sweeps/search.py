"""The Optuna side of a sweep: distributions, sampler, pruner, storage and the study.

Optuna and Dask are the ``sweep`` extra: imported here only inside functions, after
:func:`require_extras` has said in one line what to install when they are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import LayernetError
from .spec import Parameter, PrunerSettings, SweepSpec

if TYPE_CHECKING:
    import optuna

#: How to get what sweeps need.
INSTALL_HINT = "pip install 'layernet[sweep]' (optuna and dask[distributed])"


def require_extras() -> None:
    """Raise one line naming the extra to install when optuna or dask.distributed is missing."""
    try:
        import optuna  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as error:
        raise LayernetError(f"sweeps need optuna and dask.distributed, which are not installed "
                            f"({error.name or error}): {INSTALL_HINT}") from None


def distribution(parameter: Parameter) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of one ``space`` entry."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if parameter.kind == "choice":
        return CategoricalDistribution(parameter.choices)
    if parameter.kind == "int":
        return IntDistribution(int(parameter.low), int(parameter.high), step=int(parameter.step or 1))
    return FloatDistribution(parameter.low, parameter.high, log=parameter.kind == "loguniform",
                             step=parameter.step)


def build_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """The spec's sampler, seeded from ``search.sampler.seed``."""
    from optuna.samplers import GridSampler, RandomSampler, TPESampler

    settings = spec.sampler
    if settings.type == "grid":
        return GridSampler(spec.grid(), seed=settings.seed)
    if settings.type == "random":
        return RandomSampler(seed=settings.seed)
    return TPESampler(seed=settings.seed, n_startup_trials=settings.startup_trials)


def build_pruner(settings: PrunerSettings, epochs: int) -> optuna.pruners.BasePruner:
    """The pruner; ``epochs`` (the trials' epoch count) is hyperband's largest budget."""
    from optuna.pruners import HyperbandPruner, MedianPruner, NopPruner

    if settings.type == "median":
        return MedianPruner(n_startup_trials=settings.startup_trials, n_warmup_steps=settings.warmup_epochs)
    if settings.type == "hyperband":
        return HyperbandPruner(min_resource=settings.min_epochs, max_resource=max(epochs, settings.min_epochs),
                               reduction_factor=settings.reduction_factor)
    return NopPruner()


def open_storage(storage: str) -> Any:
    """An Optuna storage: a database URL as it is (``sqlite:///sweep.db``, ``postgresql://...``),
    anything else a journal file (:class:`optuna.storages.JournalStorage` on a file)."""
    if "://" in storage:
        return storage
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(storage))


def open_study(name: str, storage: str, *, direction: Literal["maximize", "minimize"] = "maximize",
               sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
    """Create the study ``name`` in ``storage``, or load it when it exists (a resumed sweep or a
    worker reporting a trial's epochs)."""
    import optuna

    try:
        return optuna.create_study(study_name=name, storage=open_storage(storage), sampler=sampler,
                                   pruner=pruner, direction=direction, load_if_exists=True)
    except Exception as error:  # noqa: BLE001 - each backend (SQLAlchemy, a journal file) raises its own
        raise LayernetError(f"{storage}: cannot open the Optuna storage ({type(error).__name__}: "
                            f"{' '.join(str(error).split())}); give a journal file path or a database "
                            "URL such as sqlite:///sweep.db") from None


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Keep Optuna's per-trial log lines off the terminal (the sweep reports its own progress)."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def journal_path(directory: Path) -> str:
    """The default storage of a sweep: ``journal.log`` in its directory (absolute, for workers)."""
    return str(directory.resolve() / "journal.log")
