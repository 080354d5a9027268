"""YAML text in and out: a safe loader that keeps the line and column of every value, and a dumper.

The loader composes PyYAML's node tree (which executes nothing) and converts
it to plain values itself, so:

* only plain tags are accepted (mappings, lists, strings, numbers, booleans,
  null); ``!!python/...`` and every other tag is a :class:`ConfigError`;
* duplicate mapping keys are refused (PyYAML would silently keep the last);
* aliases are expanded with a budget of :data:`MAX_NODES` nodes and nesting
  is capped at :data:`MAX_DEPTH` ("billion laughs" and recursive anchors fail fast);
* ``1e-3`` is a number (YAML 1.1 would read it as a string) and dates stay strings.

:func:`dump_yaml` writes plain values back so that the loader reads them identically.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..atomic import special_file
from ..errors import ConfigError
from .document import Document, KeyPath, one_line

#: Largest config file read, in bytes.
MAX_BYTES = 1_000_000
#: Most nodes a document may expand to (aliases count each time they are used).
MAX_NODES = 50_000
#: Deepest nesting of lists and mappings.
MAX_DEPTH = 64
#: Most digits in a number (Python refuses to convert integers of more than 4300).
MAX_DIGITS = 100

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null")}
_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?
                    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X)
#: The characters YAML 1.1 does not allow in a stream (as PyYAML's reader checks).
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_PLAIN_YAML = "layernet configs use plain YAML: mappings, lists, strings, numbers, true/false, null"


def _resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """SafeLoader's implicit types without timestamps and with a float pattern accepting ``1e-3``."""
    table: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = [(tag, regexp) for tag, regexp in entries
                if tag not in (_TAG + "timestamp", _TAG + "float")]
        if kept:
            table[first] = kept
    for first in "-+.0123456789":
        table[first] = [(_TAG + "float", _FLOAT), *table.get(first, [])]
    return table


RESOLVERS = _resolvers()


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader with layernet's scalar types and a nesting limit (composing only)."""

    yaml_implicit_resolvers = RESOLVERS

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Compose one node, refusing nesting deeper than :data:`MAX_DEPTH`."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _error(f"nesting deeper than {MAX_DEPTH} levels", mark.line + 1, mark.column + 1,
                             "flatten the structure", "")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class ConfigDumper(yaml.SafeDumper):
    """PyYAML's safe dumper that quotes strings exactly where :class:`ConfigLoader` needs it."""

    yaml_implicit_resolvers = RESOLVERS


def read_document(source: str | Path) -> Document:
    """Parse a config given as a path or as YAML text into a :class:`Document`.

    ``source`` is YAML text when it is a ``str`` containing a newline, or
    containing ``:`` without naming an existing file or ending in ``.yaml``/``.yml``;
    otherwise it is a file path. Raises :class:`ConfigError` for a missing or
    unreadable file, invalid YAML, or a top level that is not a mapping.
    """
    text, name = _text_of(source)
    return parse_document(text, name)


def parse_document(text: str, source: str = "<string>") -> Document:
    """Parse YAML ``text`` (from ``source``) into a :class:`Document` whose top level is a mapping.

    Before YAML sees it, the text is checked for size (:data:`MAX_BYTES`) and for
    control characters (a NUL, a bell, ...), which are reported at their line and column.
    """
    _check_text(text, source)
    loader = ConfigLoader(text)
    try:
        node = loader.get_single_node()
        document = Document(data=None, source=source)
        if node is None:
            raise _error("the config is empty", 1, 1, "write a mapping such as 'model: {...}'", source)
        document.data = _Converter(loader, document).value(node, ())
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(error, source) from None
    except yaml.YAMLError as error:
        raise _error(f"cannot read YAML: {one_line(error)}", None, None,
                     "save the file as UTF-8 text", source) from None
    except ConfigError as error:
        raise _error(error.message, error.line, error.column, error.hint, source) from None
    finally:
        loader.dispose()
    if not isinstance(document.data, dict):
        line, column = document.value_marks[()]
        raise _error(f"the top level is {kind_of(document.data)}, not a mapping", line, column,
                     "start with keys such as 'model:', 'optimizer:', 'train:'", source)
    return document


def _check_text(text: str, source: str) -> None:
    """Refuse text longer than :data:`MAX_BYTES` or holding a character YAML does not allow."""
    if len(text) > MAX_BYTES:
        raise _error(f"the config is longer than {MAX_BYTES} characters", None, None,
                     "a config is a short text file; is this the right file?", source)
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        code = ord(bad.group())
        name = {0: " (NUL)", 7: " (bell)", 8: " (backspace)", 0x1B: " (escape)", 0x7F: " (delete)"}
        raise _error(f"the character U+{code:04X}{name.get(code, '')} is not allowed in a config",
                     line, column, "a config is plain UTF-8 text; remove the character (is this a "
                     "binary file?)", source)


def kind_of(value: Any) -> str:
    """A short YAML name for the type of ``value``: ``a string``, ``an integer``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


class _Converter:
    """Turns composed nodes into plain values, recording marks in ``document``."""

    def __init__(self, loader: ConfigLoader, document: Document) -> None:
        self.loader = loader
        self.document = document
        self.nodes = 0

    def value(self, node: Node, path: KeyPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or len(path) > MAX_DEPTH:
            raise _node_error(node, f"the document expands to more than {MAX_NODES} values "
                              f"(aliases or nesting)", "remove the '*' aliases")
        self.document.value_marks.setdefault(path, _mark(node))
        if isinstance(node, ScalarNode) and node.tag in _SCALAR_TAGS:
            if node.tag in (_TAG + "int", _TAG + "float"):
                digits = sum(char.isalnum() for char in node.value)
                if digits > MAX_DIGITS:
                    raise _node_error(node, f"a number with {digits} digits, more than {MAX_DIGITS}",
                                      "write a shorter number (floats need at most 17 digits)")
            try:
                return self.loader.construct_object(node)
            except (ValueError, OverflowError) as error:
                raise _node_error(node, f"cannot read the value {one_line(node.value)[:40]!r}: "
                                  f"{one_line(error)}", _PLAIN_YAML) from None
        if isinstance(node, SequenceNode) and node.tag == _TAG + "seq":
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode) and node.tag == _TAG + "map":
            return self.mapping(node, path)
        raise _node_error(node, f"the tag {_tag_name(node.tag)} is not allowed", _PLAIN_YAML)

    def mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key in result:
                line, column = self.document.key_marks[(*path, key)]
                raise _node_error(key_node, f"duplicate key {key!r} (first written at line {line})",
                                  "write each key once")
            self.document.key_marks[(*path, key)] = _mark(key_node)
            result[key] = self.value(value_node, (*path, key))
        return result

    def key(self, node: Node) -> str:
        if node.tag not in _SCALAR_TAGS | {_TAG + "seq", _TAG + "map", _TAG + "merge"}:
            raise _node_error(node, f"the tag {_tag_name(node.tag)} is not allowed", _PLAIN_YAML)
        if node.tag == _TAG + "merge":
            raise _node_error(node, "merge keys '<<' are not supported", "write the keys out")
        if not isinstance(node, ScalarNode) or node.tag != _TAG + "str":
            shown = repr(node.value) if isinstance(node, ScalarNode) else "a list or mapping"
            raise _node_error(node, f"the key {shown} is not a name", "keys are words such as 'units'")
        key: str = node.value
        return key


def _text_of(source: str | Path) -> tuple[str, str]:
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(f"expected a file path or YAML text, got {type(source).__name__}",
                          hint="pass a path such as 'configs/mnist-mlp.yaml'")
    if isinstance(source, str) and _is_text(source):
        return source, "<string>"
    path = Path(source)
    special = special_file(path)
    if special is not None:
        raise ConfigError(f"is {special}, not a config file", source=str(path),
                          hint="give the path of a YAML text file")
    if path.is_dir():
        raise ConfigError("is a folder, not a config file", source=str(path),
                          hint="give the path of a YAML file inside it")
    if not path.is_file():
        raise ConfigError(f"config file not found: {str(path)!r}", source=str(path),
                          hint="check the path")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"the file is larger than {MAX_BYTES} bytes", source=str(path),
                              hint="a config is a short text file; is this the right file?")
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read the file: {one_line(error)}", source=str(path),
                          hint="save it as UTF-8 text") from None


def _is_text(source: str) -> bool:
    if "\n" in source or not source.strip():
        return True
    if ":" not in source or source.endswith((".yaml", ".yml")):
        return False
    return len(source) > 4096 or not os.path.exists(source)


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _node_error(node: Node, message: str, hint: str) -> ConfigError:
    line, column = _mark(node)
    return ConfigError(message, line=line, column=column, hint=hint)


def _error(message: str, line: int | None, column: int | None, hint: str, source: str) -> ConfigError:
    return ConfigError(message, line=line, column=column, hint=hint, source=source)


def _syntax_error(error: yaml.MarkedYAMLError, source: str) -> ConfigError:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    problem = error.problem or "invalid YAML"
    context = f" ({error.context})" if error.context else ""
    return _error(f"invalid YAML: {one_line(problem + context)}", line, column,
                  "check the indentation, colons and quotes", source)


def plain(value: Any) -> Any:
    """``value`` with tuples as lists and numpy scalars as Python numbers.

    Raises ``TypeError`` for anything YAML cannot hold as plain data.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} value {value!r} is not plain data "
                    "(use numbers, strings, booleans, lists and mappings)")


def dump_yaml(data: dict[str, Any]) -> str:
    """``data`` as block-style YAML, keys in their given order."""
    text: str = yaml.dump(plain(data), Dumper=ConfigDumper, sort_keys=False,
                          default_flow_style=None, allow_unicode=True, width=100)
    return text
