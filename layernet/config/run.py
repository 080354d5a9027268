"""RunConfig: a whole run (model, loss, optimiser, schedule, training, data) loaded from YAML."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.settings import DataSettings
from ..errors import ConfigError, PairingError
from ..layers.base import layer_from_config
from ..losses import Loss, get_loss
from ..model import Sequential
from ..objective import fusion
from ..optimizers import Optimizer, get_optimizer
from ..parameter import Parameter
from ..schedules import Schedule, get_schedule
from ..training.history import COLUMNS as HISTORY_COLUMNS
from ..training.settings import TrainSettings
from .document import Document, KeyPath, Problems, format_path
from .schema import check_settings, suggest
from .sections import (
    DEFAULT_LOSS,
    DEFAULT_OPTIMIZER,
    load_plugins,
    missing_plugins,
    resolve_loss,
    resolve_model,
    resolve_optimizer,
    resolve_schedule,
)
from .text import dump_yaml, parse_document, plain, read_document

#: The top-level keys of a run config, in the order :meth:`RunConfig.to_yaml` writes them.
SECTIONS = ("plugins", "model", "loss", "optimizer", "schedule", "train", "data")


@dataclass
class RunConfig:
    """A validated, fully resolved run configuration.

    Every section holds plain values with every default written out, so
    :meth:`to_yaml` describes the run completely and
    ``load_run_config(config.to_yaml()) == config``.

    Attributes:
        model: the config :meth:`layernet.Sequential.from_config` takes (repeats expanded).
        loss: ``{"type": ..., **arguments}``.
        optimizer: ``{"type": ..., **arguments}`` without ``params``.
        schedule: ``{"type": ..., **arguments}``, or None for a constant rate.
        train: how to train.
        data: what to train on.
        plugins: modules imported so their classes can be named.
        source: the file the config came from (``"<string>"`` for text); not compared.
    """

    model: dict[str, Any]
    loss: dict[str, Any]
    optimizer: dict[str, Any]
    schedule: dict[str, Any] | None = None
    train: TrainSettings = field(default_factory=TrainSettings)
    data: DataSettings = field(default_factory=DataSettings)
    plugins: list[str] = field(default_factory=list)
    source: str = field(default="<string>", compare=False)

    def build_model(self) -> Sequential:
        """A new :class:`Sequential` with fresh weights drawn from ``model.seed``.

        Raises:
            ConfigError: the weights cannot be created (e.g. a layer too large for memory).
        """
        try:
            return Sequential.from_config(copy.deepcopy(self.model))
        except (MemoryError, OverflowError, ValueError) as error:
            raise ConfigError(f"cannot build the model: {type(error).__name__}: {error}",
                              path="model", source=self.source,
                              hint="use smaller layers or valid initialiser arguments") from None

    def build_loss(self) -> Loss:
        """A new loss object."""
        return get_loss(copy.deepcopy(self.loss))

    def build_optimizer(self, params: Iterable[Parameter]) -> Optimizer:
        """A new optimiser over ``params`` (``model.parameters()``)."""
        return get_optimizer(copy.deepcopy(self.optimizer), params)

    def build_schedule(self) -> Schedule | None:
        """A new schedule, or None when the config has none."""
        return None if self.schedule is None else get_schedule(copy.deepcopy(self.schedule))

    def with_overrides(self, *, epochs: int | None = None, batch_size: int | str | None = None,
                       lr: float | None = None, seed: int | None = None,
                       data_source: str | None = None) -> RunConfig:
        """A copy with command-line values replacing the file's, checked like the file.

        ``seed`` sets ``model.seed`` (and ``train.seed`` when the file sets it);
        ``batch_size`` may be a string of digits or ``"full"``. A bad value is a
        :class:`layernet.ConfigError` naming the flag (``--lr``, ``--batch-size``, ...).
        """
        data = self.to_dict()
        labels: dict[KeyPath, str] = {}
        if isinstance(batch_size, str) and batch_size.strip().lstrip("+-").isdigit():
            batch_size = int(batch_size)
        changes: list[tuple[str, tuple[str, str], Any]] = [
            ("--epochs", ("train", "epochs"), epochs), ("--batch-size", ("train", "batch_size"), batch_size),
            ("--lr", ("optimizer", "lr"), lr), ("--seed", ("model", "seed"), seed),
            ("--seed", ("train", "seed"), seed if self.train.seed is not None else None),
            ("--data", ("data", "source"), data_source)]
        for flag, (section, key), value in changes:
            if value is not None:
                data[section][key] = value
                labels[(section, key)] = flag
        return resolve_run(Document(data, source=self.source, labels=labels), allow_plugins=False)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain values, sections in :data:`SECTIONS` order."""
        return {"plugins": list(self.plugins), "model": copy.deepcopy(self.model),
                "loss": copy.deepcopy(self.loss), "optimizer": copy.deepcopy(self.optimizer),
                "schedule": copy.deepcopy(self.schedule), "train": plain(dataclasses.asdict(self.train)),
                "data": plain(dataclasses.asdict(self.data))}

    def to_yaml(self) -> str:
        """The resolved config as YAML text that :func:`load_run_config` reads back equal."""
        return dump_yaml(self.to_dict())


def load_run_config(source: str | Path, *, allow_plugins: bool = False,
                    overrides: Sequence[str] = (), plugin_search: Sequence[Path] = ()) -> RunConfig:
    """Load and check a run config from a file path or YAML text.

    ``source`` is YAML text when it is a ``str`` containing a newline, or
    containing ``:`` while naming no existing file and not ending in
    ``.yaml``/``.yml``; otherwise it is a path. Modules under ``plugins`` are
    imported only with ``allow_plugins=True`` (nothing is imported otherwise: a
    plugin not imported yet is a problem), looked up on ``sys.path``, then in the
    config file's folder and the ``plugin_search`` folders. Left-out sections get their
    defaults: loss ``CrossEntropy``, optimizer ``{type: Adam, lr: 0.001}``, no
    schedule, ``TrainSettings()``, ``DataSettings()``.

    ``overrides`` are ``KEY=VALUE`` assignments applied to the text before it is
    checked (``layernet train --set``): ``KEY`` is a key path such as
    ``optimizer.lr`` or ``model.layers[0].units`` and ``VALUE`` is parsed as YAML
    (``0.01``, ``true``, ``null``, ``[64, 64]``, ``{type: StepDecay}``). A problem
    with an overridden value names the override (``--set model.layers[0].units``).

    Raises:
        layernet.ConfigError: for every problem found, the first described and
            all of them in its ``problems`` attribute.
    """
    document = read_document(source)
    for assignment in overrides:
        apply_override(document, assignment)
    return resolve_run(document, allow_plugins=allow_plugins,
                       search=[*config_folder(document), *plugin_search])


def config_folder(document: Document) -> list[Path]:
    """The folder of the config file ``document`` was read from (none for text)."""
    path = Path(document.source)
    return [path.parent] if document.source != "<string>" and path.is_file() else []


def config_plugins(source: str | Path) -> list[str]:
    """The plugin modules a config names that are not imported yet (nothing is imported).

    Raises:
        layernet.ConfigError: the text cannot be read as YAML.
    """
    document = read_document(source)
    data = document.data
    return missing_plugins(data.get("plugins")) if isinstance(data, dict) else []


_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def parse_key_path(text: str) -> KeyPath | None:
    """``"model.layers[0].units"`` -> ``("model", "layers", 0, "units")``; None when malformed."""
    path: list[str | int] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None or (match.group(0).startswith(".") and not path):
            return None
        path.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return tuple(path) if path and isinstance(path[0], str) else None


#: What a left-out section stands for, so ``--set optimizer.lr=0.01`` changes the default optimiser.
SECTION_DEFAULTS: dict[str, Any] = {"loss": DEFAULT_LOSS, "optimizer": DEFAULT_OPTIMIZER}


def apply_override(document: Document, assignment: str) -> None:
    """Set ``KEY=VALUE`` (see :func:`load_run_config`) in ``document``, labelling the key
    ``--set KEY`` for messages. Missing mappings on the way are created (a left-out ``loss``
    or ``optimizer`` section starts from its default, and those it creates are labelled too),
    and a class written by name alone (``ReLU``, ``loss: CrossEntropy``) becomes
    ``{type: Name}`` when a key is set inside it.

    Raises:
        layernet.ConfigError: a malformed assignment, or a path through a value that
            is not a mapping or list, or a list index out of range.
    """
    key, equals, text = assignment.partition("=")
    key = key.strip()
    flag = f"--set {key}"
    path = parse_key_path(key)
    if not equals or path is None:
        raise ConfigError(f"expected KEY=VALUE with KEY a key path such as optimizer.lr or "
                          f"model.layers[0].units, got {assignment!r}", path="--set")
    if any(end in text for end in "\n\r\x85\u2028\u2029"):
        raise ConfigError(f"the value of {flag} spans several lines; write it on one line, a mapping "
                          f"or list in flow style, e.g. --set model.layers[0]='{{type: Dense, units: 32}}'",
                          path="--set")
    value = parse_document(f"value: {text}", flag).data["value"] if text.strip() else None
    node: Any = document.data
    for depth in range(len(path) - 1):
        node = _child(document, node, path[:depth + 2], flag)
    last = path[-1]
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    else:
        raise _override_error(flag, node, last)
    document.labels[path] = flag


def _child(document: Document, node: Any, path: KeyPath, flag: str) -> Any:
    """The value at ``path[-2]`` under ``node``, made ready to hold ``path[-1]``."""
    *_, step, following = path
    if isinstance(node, dict) and isinstance(step, str):
        if node.get(step) is None:
            default = SECTION_DEFAULTS.get(step) if len(path) == 2 else None
            node[step] = copy.deepcopy(default) if default is not None else [] if isinstance(following, int) else {}
            document.labels[path[:-1]] = flag
    elif not (isinstance(node, list) and isinstance(step, int) and step < len(node)):
        raise _override_error(flag, node, step)
    if isinstance(node[step], str) and isinstance(following, str):
        node[step] = {"type": node[step]}
    return node[step]


def _override_error(flag: str, node: Any, step: str | int) -> ConfigError:
    if isinstance(node, list):
        what = f"the list has {len(node)} entries" if isinstance(step, int) else "it is a list: use [index]"
    elif isinstance(node, dict):
        what = f"{step!r} is a list index but the value is a mapping"
    else:
        what = f"the value there is {node!r}, not a mapping or list"
    return ConfigError(f"cannot set it: {what}", path=flag,
                       hint="write a layer as a mapping first, e.g. --set model.layers[0]='{type: Dense, units: 32}'"
                       if isinstance(node, str) else "")


def key_location(source: str, path: KeyPath) -> str:
    """``FILE:LINE:COLUMN: key.path`` where the config file ``source`` writes ``path``, for a
    message about a valid value (``FILE: key.path`` when the file does not write it, e.g. it
    was set with ``--set``, and ``key.path`` alone for YAML text)."""
    mark = read_document(Path(source)).value_marks.get(path) if Path(source).is_file() else None
    where = source if mark is None else f"{source}:{mark[0]}:{mark[1]}"
    return f"{where}: {format_path(path)}" if source != "<string>" else format_path(path)


def validate_config(source: str | Path, *, allow_plugins: bool = False) -> RunConfig:
    """Check a run config (what ``layernet validate`` runs); the same as :func:`load_run_config`."""
    return load_run_config(source, allow_plugins=allow_plugins)


def resolve_run(document: Document, *, allow_plugins: bool, search: Sequence[Path] = ()) -> RunConfig:
    """Check every section of ``document``; raise one :class:`ConfigError` listing all problems."""
    problems = Problems(document)
    data: dict[str, Any] = document.data
    plugins = check_sections(problems, data, allow_plugins=allow_plugins, search=search)
    model = resolve_model(problems, ("model",), data["model"]) if "model" in data else None
    loss = resolve_loss(problems, ("loss",), data.get("loss", DEFAULT_LOSS))
    optimizer = resolve_optimizer(problems, ("optimizer",), data.get("optimizer", DEFAULT_OPTIMIZER))
    schedule = resolve_schedule(problems, ("schedule",), data.get("schedule"))
    train = check_settings(problems, ("train",), TrainSettings, data.get("train"))
    settings = check_settings(problems, ("data",), DataSettings, data.get("data"))
    problems.raise_if_any()
    assert model is not None and loss is not None
    check_pairing(problems, ("loss",) if "loss" in data else ("model", "layers"), model, loss)
    assert train is not None
    check_monitor(problems, train)
    problems.raise_if_any()
    assert model is not None and loss is not None and optimizer is not None
    assert train is not None and settings is not None
    return RunConfig(model=model, loss=loss, optimizer=optimizer, schedule=schedule, train=train,
                     data=settings, plugins=plugins, source=document.source)


def check_monitor(problems: Problems, train: TrainSettings) -> None:
    """Record an early-stopping monitor that no epoch would report (a typo, or a validation
    column without ``train.validation_split``), so the run cannot fail after its first epoch."""
    stopping = train.early_stopping
    if stopping is None:
        return
    path: KeyPath = ("train", "early_stopping", "monitor")
    if stopping.monitor not in HISTORY_COLUMNS:
        problems.add(path, f"early stopping cannot monitor {stopping.monitor!r}: no epoch reports it",
                     suggest(stopping.monitor, HISTORY_COLUMNS, "history columns are"))
    elif stopping.monitor.startswith("val_") and train.validation_split == 0:
        problems.add(path, f"early stopping monitors {stopping.monitor!r}, which needs validation data",
                     "set train.validation_split, e.g. 0.1, or monitor 'loss'")


def check_pairing(problems: Problems, path: KeyPath, model: dict[str, Any], loss: dict[str, Any]) -> None:
    """Record at ``path`` a loss that does not fit the model's last layer (see :func:`layernet.pair`)."""
    try:
        fusion(layer_from_config(copy.deepcopy(model["layers"][-1])), get_loss(copy.deepcopy(loss)))
    except PairingError as error:
        problems.add(path, str(error))


def check_sections(problems: Problems, data: dict[str, Any], *, allow_plugins: bool,
                   search: Sequence[Path] = ()) -> list[str]:
    """Record unknown sections and a missing ``model``; import the plugins and return their names."""
    for key in data:
        if key not in SECTIONS:
            problems.add((key,), f"unknown section {key!r}", suggest(key, SECTIONS, "sections are"),
                         at_key=True)
    if "model" not in data:
        problems.add((), "the config has no 'model' section",
                     "add model: {input_shape: [784], layers: [{type: Dense, units: 10}, Softmax]}")
    return load_plugins(problems, ("plugins",), data.get("plugins"), allow=allow_plugins, search=search)


def model_from_yaml(source: str | Path, *, allow_plugins: bool = False) -> Sequential:
    """Build the ``model`` section of a config file or text (other sections are not checked)."""
    document = read_document(source)
    problems = Problems(document)
    check_sections(problems, document.data, allow_plugins=allow_plugins, search=config_folder(document))
    model = resolve_model(problems, ("model",), document.data["model"]) if problems.count() == 0 else None
    problems.raise_if_any()
    assert model is not None
    return Sequential.from_config(model)


def model_to_yaml(model: Sequential) -> str:
    """The architecture of ``model`` (no weights) as YAML that :func:`model_from_yaml` reads back.

    Layers defined outside layernet add their modules under ``plugins``.
    """
    header: dict[str, Any] = {"plugins": model.plugins} if model.plugins else {}
    return dump_yaml({**header, "model": model.get_config()})
