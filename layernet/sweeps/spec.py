"""The sweep spec: a base run config, a search space over its keys, and how to search.

A spec is YAML, read and checked like a run config (every problem with its key path, line
and column)::

    base: ../mnist-mlp.yaml          # a run config file (relative to this file) or a mapping
    set: {train.epochs: 3}           # fixed overrides for every trial (optional)
    space:                           # one sampled value per key path, per trial
      optimizer.lr: {loguniform: [1.0e-4, 1.0e-2]}
      model.layers[0].units: {choice: [64, 128, 256]}
      model.layers[2].rate: {uniform: [0.0, 0.5]}
      train.batch_size: {int: [32, 256], step: 32}
    search:
      metric: val_accuracy           # a history column, reported after every epoch
      trials: 30
      sampler: {type: tpe, seed: 0}  # tpe, random or grid
      pruner: {type: median}         # none, median or hyperband

A sampled parameter is a dotted override (the ``--set`` of ``layernet train``), so a trial's
config is checked exactly like ``layernet train CONFIG --set KEY=VALUE``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .. import checks
from ..checks import bounds
from ..config import RunConfig
from ..config.document import Document, KeyPath, Problems
from ..config.run import apply_override, parse_key_path, resolve_run
from ..config.schema import check_settings, suggest
from ..config.text import dump_yaml, read_document
from ..errors import ConfigError
from ..training.history import COLUMNS as HISTORY_COLUMNS

#: The distributions a ``space`` entry may name, with what each takes.
KINDS = {"uniform": "[low, high]", "loguniform": "[low, high], low > 0", "int": "[low, high]",
         "choice": "[value, ...]"}
#: History columns a sweep can optimise (reported after every epoch).
METRICS = tuple(column for column in HISTORY_COLUMNS if column not in ("epoch", "lr", "seconds"))
#: The spec's sections.
SPEC_KEYS = ("base", "set", "space", "search")


@dataclass(frozen=True)
class SamplerSettings:
    """How trials choose their parameters (``sampler:``; a bare name such as ``tpe`` works too).

    Attributes:
        type: ``tpe`` (Optuna's TPESampler), ``random`` or ``grid`` (every combination of
            ``choice`` values, in an order drawn from ``seed``).
        seed: seeds the sampler, so a sweep run one trial at a time is repeatable.
        startup_trials: random trials before TPE starts modelling (tpe only).
    """

    type: Literal["tpe", "random", "grid"] = "tpe"
    seed: int | None = field(default=None, metadata=bounds(min=0))
    startup_trials: int = field(default=10, metadata=bounds(min=0))

    def __post_init__(self) -> None:
        checks.check_fields(self)


@dataclass(frozen=True)
class PrunerSettings:
    """When to stop unpromising trials early, from the metric after every epoch (``pruner:``).

    Attributes:
        type: ``none``, ``median`` (stop a trial whose metric is worse than the median of
            earlier trials at the same epoch) or ``hyperband``.
        startup_trials: trials that finish before median pruning starts.
        warmup_epochs: epochs every trial runs before median pruning may stop it.
        min_epochs: hyperband's smallest budget, in epochs.
        reduction_factor: hyperband keeps about 1/reduction_factor of the trials per rung.
    """

    type: Literal["none", "median", "hyperband"] = "median"
    startup_trials: int = field(default=5, metadata=bounds(min=0))
    warmup_epochs: int = field(default=1, metadata=bounds(min=0))
    min_epochs: int = field(default=1, metadata=bounds(min=1))
    reduction_factor: int = field(default=3, metadata=bounds(min=2))

    def __post_init__(self) -> None:
        checks.check_fields(self)


@dataclass(frozen=True)
class SweepSettings:
    """The ``search`` section: what to optimise and how.

    Attributes:
        metric: the history column to optimise (``val_accuracy``, ``val_loss``, ``accuracy``,
            ``loss``); a trial's value is the metric after its last epoch.
        direction: ``maximize`` or ``minimize``; default: maximise accuracies, minimise losses.
        trials: how many trials end (complete, pruned or failed) before the sweep stops.
        sampler: how parameters are chosen (default: TPE, unseeded).
        pruner: when trials stop early (default: median pruning).
        workers: trials run at once on the local cluster (default: one per core).
        threads: BLAS threads per trial (1 keeps parallel trials from fighting over cores).
    """

    metric: str = "val_accuracy"
    direction: Literal["maximize", "minimize"] | None = None
    trials: int = field(default=20, metadata=bounds(min=1))
    sampler: SamplerSettings | None = None
    pruner: PrunerSettings | None = None
    workers: int | None = field(default=None, metadata=bounds(min=1))
    threads: int = field(default=1, metadata=bounds(min=1))

    def __post_init__(self) -> None:
        checks.check_fields(self)


@dataclass(frozen=True)
class Parameter:
    """One ``space`` entry: a key path of the run config and the values it may take.

    Attributes:
        key: the key path as written, e.g. ``model.layers[0].units``.
        kind: ``uniform``, ``loguniform``, ``int`` or ``choice``.
        low, high: the range (not for ``choice``).
        step: the spacing of an ``int`` range (default 1) or of a ``uniform`` one (default none).
        choices: the values of a ``choice``.
    """

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def extremes(self) -> tuple[Any, ...]:
        """The values that bound what a trial may get (each choice; a range's two ends)."""
        if self.kind == "choice":
            return self.choices
        if self.kind == "int":
            return (int(self.low), int(self.high))
        return (self.low, self.high)


@dataclass
class SweepSpec:
    """A checked sweep spec (see the module docstring); :func:`load_sweep_spec` makes one.

    Attributes:
        base: the base run config's document (values and positions), before ``set``.
        fixed: the ``set`` overrides, in order.
        space: the sampled parameters, in order.
        settings: metric, direction, trials, sampler, pruner, workers, threads.
        source: the spec file (``"<string>"`` for text).
        plugin_search: folders where the base config's plugin modules are looked for.
    """

    base: Document
    fixed: dict[str, Any]
    space: list[Parameter]
    settings: SweepSettings
    source: str = "<string>"
    plugin_search: list[Path] = field(default_factory=list)

    @property
    def direction(self) -> Literal["maximize", "minimize"]:
        """``maximize`` or ``minimize`` (the default follows the metric)."""
        if self.settings.direction is not None:
            return self.settings.direction
        return "maximize" if self.settings.metric.endswith("accuracy") else "minimize"

    @property
    def sampler(self) -> SamplerSettings:
        """The sampler settings (TPE, unseeded, when the spec names none)."""
        return self.settings.sampler or SamplerSettings()

    @property
    def pruner(self) -> PrunerSettings:
        """The pruner settings (median pruning when the spec names none)."""
        return self.settings.pruner or PrunerSettings()

    def trial_config(self, params: dict[str, Any], *, allow_plugins: bool = False) -> RunConfig:
        """The run config of a trial: the base, the ``set`` overrides, then ``params``.

        Raises:
            layernet.ConfigError: the values make an invalid config; the message names
                the sampled key and value.
        """
        document = copy.deepcopy(self.base)
        for key, value in [*self.fixed.items(), *params.items()]:
            _override(document, key, value, label=f"{key} (= {_short(value)})")
        return resolve_run(document, allow_plugins=allow_plugins, search=self.plugin_search)

    def grid(self) -> dict[str, list[Any]]:
        """The grid of a ``grid`` sampler: each parameter's choices."""
        return {parameter.key: list(parameter.choices) for parameter in self.space}

    def to_yaml(self) -> str:
        """The spec with its base config inlined, as YAML that :func:`load_sweep_spec` reads back."""
        search = {"metric": self.settings.metric, "direction": self.direction,
                  "trials": self.settings.trials, "sampler": vars(self.sampler),
                  "pruner": vars(self.pruner), "workers": self.settings.workers,
                  "threads": self.settings.threads}
        return dump_yaml({"base": self.base.data, "set": dict(self.fixed),
                          "space": {p.key: _space_entry(p) for p in self.space}, "search": search})


def load_sweep_spec(source: str | Path, *, allow_plugins: bool = False) -> SweepSpec:
    """Read and check a sweep spec from a file path or YAML text (see the module docstring).

    The base config and every parameter are checked before any trial runs: each range's
    ends and each choice are applied to the base and the result checked like a run
    config, so a key path that names nothing, or a value a layer refuses, is reported
    at its line in the spec. The base config's ``plugins`` are imported only with
    ``allow_plugins`` (as for ``layernet train --allow-plugins``).

    Raises:
        layernet.ConfigError: every problem found, the first described, each with its key
            path, line and column.
    """
    document = read_document(source)
    problems = Problems(document)
    data: dict[str, Any] = document.data
    folder = Path(document.source).parent if document.source != "<string>" else Path.cwd()
    base = _base_document(problems, document, data.get("base"), folder)
    fixed = _fixed(problems, data.get("set"))
    space = _space(problems, data.get("space"))
    for key in data:
        if key not in SPEC_KEYS:
            problems.add((key,), f"a sweep spec has no section {key!r}", suggest(str(key), SPEC_KEYS,
                         "its sections are"), at_key=True)
    settings = check_settings(problems, ("search",), SweepSettings, _shorthands(data.get("search")))
    problems.raise_if_any()
    assert base is not None and settings is not None  # every problem was raised above
    spec = SweepSpec(base, fixed, space, settings, document.source,
                     [Path(base.source).parent] if base.source != document.source else [folder])
    _check_against_base(problems, spec, allow_plugins)
    problems.raise_if_any()
    return spec


def _shorthands(search: Any) -> Any:
    """``sampler: tpe`` and ``pruner: median`` as ``{type: ...}`` mappings."""
    if not isinstance(search, dict):
        return search
    return {key: {"type": value} if key in ("sampler", "pruner") and isinstance(value, str) else value
            for key, value in search.items()}


def _base_document(problems: Problems, spec: Document, value: Any, folder: Path) -> Document | None:
    """The base config: a file named relative to the spec, or the inline mapping (keeping its
    positions in the spec, so its problems point into the spec)."""
    if isinstance(value, str):
        path = Path(value) if Path(value).is_absolute() else folder / value
        if not path.is_file():
            problems.add(("base",), f"no config file {value!r} (looked for {path})",
                         "give a run config's path relative to the spec, or the config itself as a mapping")
            return None
        return read_document(path)
    if isinstance(value, dict):
        return Document(copy.deepcopy(value), spec.source, _under(spec.value_marks), _under(spec.key_marks))
    problems.add(("base",), "the spec needs a base run config" if value is None else
                 f"base must be a config file's path or a mapping, got {_short(value)}",
                 "e.g. base: ../mnist-mlp.yaml")
    return None


def _under(marks: dict[KeyPath, Any]) -> dict[KeyPath, Any]:
    """The positions below ``base`` with ``base`` taken off their key paths."""
    return {path[1:]: mark for path, mark in marks.items() if path[:1] == ("base",) and len(path) > 1}


def _fixed(problems: Problems, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(("set",), f"set must be a mapping of key paths to values, got {_short(value)}",
                     "e.g. set: {train.epochs: 3}")
        return {}
    for key in value:
        _check_key(problems, ("set", key), key)
    return dict(value)


def _space(problems: Problems, value: Any) -> list[Parameter]:
    if not isinstance(value, dict) or not value:
        problems.add(("space",), "the spec needs a search space: a mapping of key paths to distributions",
                     "e.g. space: {optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}}")
        return []
    found = []
    for key, entry in value.items():
        if _check_key(problems, ("space", key), key):
            parameter = _parameter(problems, ("space", key), key, entry)
            if parameter is not None:
                found.append(parameter)
    return found


def _check_key(problems: Problems, path: KeyPath, key: Any) -> bool:
    if isinstance(key, str) and parse_key_path(key) is not None:
        return True
    problems.add(path, f"{key!r} is not a key path", "write e.g. optimizer.lr or model.layers[0].units",
                 at_key=True)
    return False


def _parameter(problems: Problems, path: KeyPath, key: str, entry: Any) -> Parameter | None:
    """One distribution, ``{kind: values}`` plus ``step`` for ranges."""
    kinds = [name for name in KINDS if isinstance(entry, dict) and name in entry]
    extra = [name for name in entry if name not in (*KINDS, "step")] if isinstance(entry, dict) else []
    if len(kinds) != 1 or extra:
        unknown = extra[0] if extra else ""
        hint = suggest(unknown, KINDS, "distributions are") if unknown else \
            "one of " + "; ".join(f"{{{name}: {shape}}}" for name, shape in KINDS.items())
        problems.add(path, f"expected one distribution, got {_short(entry)}", hint)
        return None
    kind = kinds[0]
    values, step = entry[kind], entry.get("step")
    if kind == "choice":
        return _choice(problems, (*path, kind), key, values, step)
    return _range(problems, path, key, kind, values, step)


def _choice(problems: Problems, path: KeyPath, key: str, values: Any, step: Any) -> Parameter | None:
    if step is not None:
        problems.add(path[:-1], "step applies to int and uniform ranges, not choice")
        return None
    scalar = (bool, int, float, str, type(None))
    if not isinstance(values, list) or not values or not all(isinstance(v, scalar) for v in values):
        problems.add(path, f"choice must be a non-empty list of numbers, strings, booleans or null, "
                     f"got {_short(values)}", "to choose between layer lists, sweep each layer's keys")
        return None
    return Parameter(key, "choice", choices=tuple(values))


def _range(problems: Problems, path: KeyPath, key: str, kind: str, values: Any,
           step: Any) -> Parameter | None:
    where = (*path, kind)
    whole = kind == "int"
    number = int if whole else (int, float)
    if (not isinstance(values, list) or len(values) != 2
            or not all(isinstance(v, number) and not isinstance(v, bool) for v in values)):
        problems.add(where, f"{kind} takes [low, high] ({'integers' if whole else 'numbers'}), "
                     f"got {_short(values)}", f"e.g. {{{kind}: {'[1, 4]' if whole else '[0.0, 0.5]'}}}")
        return None
    low, high = values
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        problems.add(where, f"{kind} needs low < high, got [{low}, {high}]")
    elif kind == "loguniform" and low <= 0:
        problems.add(where, f"loguniform needs low > 0, got {low}", "use uniform to include 0")
    elif step is not None and (kind == "loguniform" or not isinstance(step, number)
                               or isinstance(step, bool) or step <= 0):
        problems.add((*path, "step"), f"step must be a positive {'integer' if whole else 'number'} on "
                     f"int and uniform ranges, got {_short(step)}")
    else:
        return Parameter(key, kind, low, high, step)
    return None


def _check_against_base(problems: Problems, spec: SweepSpec, allow_plugins: bool) -> None:
    """Check the base with ``set`` (its problems are raised as they are: located in the base file,
    or in the spec for an inline base), then each parameter's extreme values on it (recorded at
    the parameter's key in the spec)."""
    config = spec.trial_config({}, allow_plugins=allow_plugins)
    _check_metric(problems, spec, config)
    for parameter in spec.space:
        for value in parameter.extremes():
            try:
                spec.trial_config({parameter.key: value}, allow_plugins=allow_plugins)
            except ConfigError as error:
                problems.add(("space", parameter.key), f"the value {_short(value)} makes an invalid "
                             f"config: {error.message}", error.hint or "check the key path and range",
                             at_key=True)
                break
    if spec.sampler.type == "grid":
        ranged = [p.key for p in spec.space if p.kind != "choice"]
        if ranged:
            problems.add(("search", "sampler"), f"the grid sampler needs choice lists, but {ranged[0]} is a range",
                         f"write {ranged[0]}: {{choice: [...]}}, or use sampler: tpe")


def _check_metric(problems: Problems, spec: SweepSpec, config: RunConfig) -> None:
    """The metric must be a column every epoch of the base config reports (as for early stopping)."""
    metric = spec.settings.metric
    if metric not in METRICS:
        problems.add(("search", "metric"), f"cannot optimise {metric!r}: it is not reported every epoch",
                     suggest(metric, METRICS, "metrics are"))
    elif metric.startswith("val_") and config.train.validation_split == 0:
        problems.add(("search", "metric"), f"{metric!r} needs validation data, but the base config has none",
                     "set train.validation_split in the base (or under set:), or optimise 'loss'")


def _override(document: Document, key: str, value: Any, *, label: str) -> None:
    """Set ``key`` to ``value`` in ``document`` the way ``--set KEY=VALUE`` does (creating missing
    mappings on the way), naming it ``label`` in messages."""
    apply_override(document, f"{key}=null")
    path = parse_key_path(key)
    assert path is not None  # checked when the spec was loaded
    node: Any = document.data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = copy.deepcopy(value)
    document.labels[path] = label


def _space_entry(parameter: Parameter) -> dict[str, Any]:
    if parameter.kind == "choice":
        return {"choice": list(parameter.choices)}
    entry: dict[str, Any] = {parameter.kind: [parameter.extremes()[0], parameter.extremes()[1]]}
    return entry if parameter.step is None else {**entry, "step": parameter.step}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
