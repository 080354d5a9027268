"""The sections of a run config: ``plugins``, ``model``, ``loss``, ``optimizer`` and ``schedule``.

* ``plugins``: modules imported so that the classes they register can be named.
  Importing runs the module's code, so it happens only with ``allow_plugins=True``;
  a module already imported in this process is accepted either way. Modules are
  found on ``sys.path``, then in the config's own folder and any extra ``search``
  folders (a run records where its plugins were found), then, as with ``python -m``,
  in the current directory.
* ``model``: a layer is written ``ReLU`` (no arguments), ``{type: Dense, units: 10}``,
  or ``{repeat: N, layers: [...]}`` (the block repeated ``N`` times, nestable). The
  section resolves to the plain config :meth:`layernet.Sequential.from_config`
  accepts, with every repeat expanded and every default written out.
* ``loss``, ``optimizer``, ``schedule``: a registered name plus its arguments.
"""

from __future__ import annotations

import copy
import functools
import importlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import checks
from ..checks import bounds
from ..errors import ShapeError
from ..layers.base import LAYERS, Layer, layer_config
from ..losses import LOSSES, loss_config
from ..optimizers import OPTIMIZERS, optimizer_config
from ..parameter import Parameter
from ..schedules import SCHEDULES, schedule_config
from .document import KeyPath, Problems, one_line
from .schema import build, check_settings, split_spec
from .text import kind_of, plain

_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def load_plugins(problems: Problems, path: KeyPath, value: Any, *, allow: bool,
                 search: Sequence[Path] = ()) -> list[str]:
    """Check and import the module names at ``path``; the names (problems recorded).

    Without ``allow`` nothing is imported: a module not imported yet is a problem.
    ``search``: folders tried (after ``sys.path``) when importing.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(path, f"plugins must be a list of module names, got {kind_of(value)}",
                     "e.g. plugins: [examples.custom_layers]")
        return []
    names: list[str] = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or not _MODULE.match(name):
            problems.add((*path, index), f"{name!r} is not a module name", "e.g. examples.custom_layers")
        elif _import(problems, (*path, index), name, allow, search):
            names.append(name)
    return names


def plugin_names(value: Any) -> list[str]:
    """The well-formed module names in a ``plugins`` value (nothing imported)."""
    if not isinstance(value, list):
        return []
    return [name for name in value if isinstance(name, str) and _MODULE.match(name)]


def missing_plugins(value: Any) -> list[str]:
    """The module names in a ``plugins`` value that are not imported in this process."""
    return [name for name in plugin_names(value) if name not in sys.modules]


def consent_message(names: Sequence[str], where: str) -> str:
    """The one line refusing to import ``names`` (named by ``where``) without consent."""
    listed = ", ".join(names)
    return (f"{where}: names plugin module{'s' if len(names) != 1 else ''} {listed}, not imported; "
            f"pass --allow-plugins to import {'them' if len(names) != 1 else 'it'} (this runs their code)")


def plugin_root(name: str) -> Path | None:
    """The folder on which the imported module ``name`` was found (its ``sys.path`` entry)."""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return None
    depth = name.count(".") + (1 if Path(file).name == "__init__.py" else 0)
    return Path(file).resolve().parents[depth]


def _import(problems: Problems, path: KeyPath, name: str, allow: bool, search: Sequence[Path]) -> bool:
    if name in sys.modules:
        return True
    if not allow:
        problems.add(path, f"plugin module {name!r} is not imported and importing runs its code",
                     "load with allow_plugins=True to import it (on the command line: --allow-plugins)")
        return False
    try:
        with _search_path([*search, Path.cwd()]):
            importlib.import_module(name)
    except Exception as error:  # a plugin's own failure, whatever it is, is reported at its name
        problems.add(path, f"cannot import plugin {name!r}: {type(error).__name__}: "
                     f"{one_line(error)}",
                     "check the module name and that its folder is on PYTHONPATH")
        return False
    return True


@contextmanager
def _search_path(folders: Sequence[Path]) -> Iterator[None]:
    """Let imports fall back to ``folders`` (appended to ``sys.path``) for the duration."""
    added = []
    for folder in folders:
        entry = str(folder.resolve()) if str(folder) else os.getcwd()
        if entry not in sys.path and entry not in added and not (entry == os.getcwd() and "" in sys.path):
            sys.path.append(entry)
            added.append(entry)
    try:
        yield
    finally:
        for entry in added:
            sys.path.remove(entry)


#: Most layers a model may expand to.
MAX_LAYERS = 10_000


@dataclass(frozen=True)
class ModelSection:
    """The ``model`` section.

    Attributes:
        layers: the layers in order (names, ``{type: ...}`` mappings or ``repeat`` blocks).
        input_shape: the shape of one sample, e.g. ``[784]``; the model is
            built and shape-checked from it (omit it to build at the first batch).
        dtype: ``float32`` or ``float64``.
        seed: seeds the initial weights and dropout masks (≥ 0).
        name: an optional label.
    """

    layers: list[Any]
    input_shape: list[int] | None = field(default=None, metadata=bounds(min=1))
    dtype: Literal["float32", "float64"] = "float32"
    seed: int = field(default=0, metadata=bounds(min=0))
    name: str | None = None

    def __post_init__(self) -> None:
        checks.check_fields(self)


@dataclass(frozen=True)
class RepeatBlock:
    """A ``{repeat: N, layers: [...]}`` item: ``layers`` repeated ``repeat`` times.

    Attributes:
        repeat: how many copies (≥ 1).
        layers: the block, written like the model's layer list.
    """

    repeat: int = field(metadata=bounds(min=1))
    layers: list[Any]

    def __post_init__(self) -> None:
        checks.check_fields(self)


@dataclass(frozen=True)
class _Entry:
    path: KeyPath
    layer: Layer
    config: dict[str, Any]


def resolve_model(problems: Problems, path: KeyPath, value: Any) -> dict[str, Any] | None:
    """Check the model section at ``path``; its resolved plain config, or None (recorded) on a problem."""
    before = problems.count()
    section = check_settings(problems, path, ModelSection, value)
    if section is None:
        return None
    if section.input_shape == []:
        problems.add((*path, "input_shape"), "input_shape is empty", "e.g. input_shape: [784]")
    entries = _expand(problems, (*path, "layers"), section.layers)
    if not section.layers:
        problems.add((*path, "layers"), "the model has no layers", "e.g. layers: [{type: Dense, units: 10}]")
    elif len(entries) > MAX_LAYERS:
        problems.add((*path, "layers"), f"the model expands to {len(entries)} layers, more than {MAX_LAYERS}",
                     "lower the repeat counts")
    if problems.count() != before:
        return None
    if section.input_shape:
        _check_shapes(problems, entries, tuple(section.input_shape))
    config: dict[str, Any] = {} if section.name is None else {"name": section.name}
    if section.input_shape:
        config["input_shape"] = list(section.input_shape)
    config.update({"dtype": section.dtype, "seed": section.seed,
                   "layers": [copy.deepcopy(entry.config) for entry in entries]})
    return config


def _expand(problems: Problems, path: KeyPath, items: list[Any]) -> list[_Entry]:
    entries: list[_Entry] = []
    for index, item in enumerate(items):
        entries += _item(problems, (*path, index), item)
        if len(entries) > MAX_LAYERS:
            break
    return entries


def _item(problems: Problems, path: KeyPath, item: Any) -> list[_Entry]:
    if isinstance(item, dict) and "repeat" in item:
        return _repeat(problems, path, item)
    parts = split_spec(problems, path, item, LAYERS)
    if parts is None:
        return []
    layer = build(problems, path, *parts)
    if layer is None:
        return []
    try:
        config = plain(layer_config(layer))
    except (NotImplementedError, TypeError) as error:
        problems.add(path, f"{type(layer).__name__} cannot describe itself: {error}",
                     "fix the layer's get_config()")
        return []
    return [_Entry(path, layer, config)]


def _repeat(problems: Problems, path: KeyPath, item: dict[str, Any]) -> list[_Entry]:
    block = check_settings(problems, path, RepeatBlock, item)
    if block is None:
        return []
    if not block.layers:
        problems.add((*path, "layers"), "the repeated block has no layers",
                     "e.g. layers: [{type: Dense, units: 64}, ReLU]")
        return []
    body = _expand(problems, (*path, "layers"), block.layers)
    if len(body) * block.repeat > MAX_LAYERS:
        problems.add((*path, "repeat"), f"repeat: {block.repeat} makes {len(body) * block.repeat} layers, "
                     f"more than {MAX_LAYERS}", "lower the repeat count")
        return []
    return [entry for _ in range(block.repeat) for entry in body]


def _check_shapes(problems: Problems, entries: list[_Entry], input_shape: tuple[int, ...]) -> None:
    """Run each layer's shape rule from ``input_shape``; record the first layer that does not fit."""
    shape = input_shape
    for index, entry in enumerate(entries):
        try:
            shape = tuple(entry.layer.compute_output_shape(shape))
        except (ShapeError, ValueError) as error:
            problems.add(entry.path, f"layer {index} ({entry.config['type']}) gets input (batch, "
                         f"{', '.join(map(str, shape))}): {one_line(error)}",
                         "its input shape comes from input_shape and the layers before it")
            return


#: The sections' values when a config leaves them out.
DEFAULT_LOSS = "CrossEntropy"
DEFAULT_OPTIMIZER: dict[str, Any] = {"type": "Adam", "lr": 0.001}


def resolve_loss(problems: Problems, path: KeyPath, spec: Any) -> dict[str, Any] | None:
    """``CrossEntropy`` or ``{type: CrossEntropy, from_logits: false}`` -> the full loss config."""
    parts = split_spec(problems, path, spec, LOSSES)
    loss = None if parts is None else build(problems, path, *parts)
    return None if loss is None else plain(loss_config(loss))


def resolve_optimizer(problems: Problems, path: KeyPath, spec: Any) -> dict[str, Any] | None:
    """``{type: SGD, lr: 0.1}`` -> the full optimiser config (``params`` come from the model later)."""
    parts = split_spec(problems, path, spec, OPTIMIZERS)
    if parts is None:
        return None
    cls, args = parts
    probe = [Parameter(np.zeros(1, dtype=np.float32), name="probe")]
    optimizer = build(problems, path, cls, args, factory=functools.partial(cls, probe), skip=("params",))
    return None if optimizer is None else plain(optimizer_config(optimizer))


def resolve_schedule(problems: Problems, path: KeyPath, spec: Any) -> dict[str, Any] | None:
    """``{type: CosineDecay, epochs: 10}`` -> the full schedule config; None for no schedule."""
    if spec is None:
        return None
    parts = split_spec(problems, path, spec, SCHEDULES)
    schedule = None if parts is None else build(problems, path, *parts)
    return None if schedule is None else plain(schedule_config(schedule))
