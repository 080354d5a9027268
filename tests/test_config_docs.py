"""docs/yaml-reference.md is generated from the registries and must not drift from them."""

from __future__ import annotations

from pathlib import Path

import layernet as ln
from layernet.config import reference_markdown
from layernet.config.reference import REGENERATE
from layernet.schedules import SCHEDULES
from layernet.data.settings import DataSettings
from layernet.training.settings import TrainSettings

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "yaml-reference.md"


def test_reference_file_matches_the_generated_text() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(), (
        f"docs/yaml-reference.md is out of date; regenerate it from the repository root with:\n{REGENERATE}")


def test_reference_lists_every_builtin_class_and_setting() -> None:
    text = reference_markdown()
    for registry in (ln.LAYERS, ln.LOSSES, ln.OPTIMIZERS, ln.INITIALIZERS, SCHEDULES):
        for name, cls in registry.items():
            if cls.__module__.startswith("layernet."):
                assert f"### `{name}`" in text
    for settings in (TrainSettings, DataSettings):
        for field in settings.__dataclass_fields__:
            assert f"| `{field}` |" in text
    assert "| `units` | int | required |" in text
    assert "| `lr` | float | `0.01` |" in text
    assert "| `batch_size` | int or 'full' | `32` | >= 1 |" in text
    assert "repeat" in text and "plugins" in text and "allow_plugins=True" in text


def test_reference_leaves_out_plugins_unless_asked() -> None:
    class DocsOnlyLayer(ln.Layer):
        """A layer registered only by this test."""

    ln.LAYERS.register(DocsOnlyLayer, name="DocsOnlyLayer")
    assert "DocsOnlyLayer" not in reference_markdown()
    assert "### `DocsOnlyLayer`" in reference_markdown(builtin_only=False)
