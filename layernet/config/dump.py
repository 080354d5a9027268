"""Writing configs back as YAML: plain values only, read back identically by the loader."""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml

from .reader import ConfigDumper


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
