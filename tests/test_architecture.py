"""The package's layers and import rules (docs/architecture.md), checked on every import in layernet/.

Every ``import`` and ``from ... import`` statement is parsed, including those inside
functions and ``if TYPE_CHECKING:`` blocks, and resolved to a layernet module. The rules:

1. a module imports nothing from a higher floor (``FLOORS``);
2. no import cycle between modules (``TYPE_CHECKING`` imports excepted: they never run);
3. nothing but the entry point ``layernet.__main__`` (and ``cli`` itself) imports ``layernet.cli``;
4. nothing imports the package root ``layernet/__init__.py``;
5. an import inside a function body is allowed only for an optional dependency (``LAZY``), a
   dependency too slow to import at start-up (``SLOW``: pandas, urllib, http) or, in the package root, a
   subpackage built on optional dependencies (``LAZY_SUBPACKAGES``: ``ln.sweep``); an optional
   dependency is never imported at module level (``TYPE_CHECKING`` imports excepted).

Run this file directly (``python tests/test_architecture.py``) to print the import graph.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "layernet"

#: Floors from the bottom up; a module's floor is that of its longest matching prefix.
FLOORS: dict[str, int] = {
    # 1 foundations: no layernet imports but each other
    "layernet._version": 1, "layernet.errors": 1, "layernet.checks": 1, "layernet.typing": 1,
    "layernet.registry": 1, "layernet.atomic": 1, "layernet.archive": 1,
    # 2 core maths: parameters, layers, losses, optimisers, the model
    "layernet.parameter": 2, "layernet.initializers": 2, "layernet.schedules": 2, "layernet.ops": 2,
    "layernet.patches": 2, "layernet.layers": 2, "layernet.losses": 2, "layernet.optimizers": 2,
    "layernet.model": 2, "layernet.fusion": 2, "layernet.kernels": 2, "layernet.objective": 2, "layernet.gradcheck": 2,
    # 3 data, training, model files and checkpoints
    "layernet.data": 3, "layernet.training": 3, "layernet.io": 3,
    # 4 YAML configs, the contract checks for layers, sweeps and export
    "layernet.config": 4, "layernet.runs": 4, "layernet.testing": 4, "layernet.sweeps": 4,
    "layernet.export": 4,
    # 5 the command line: the only code that prints
    "layernet.cli": 5, "layernet.__main__": 5,
}
#: The package root re-exports the public API: it sits above floor 4 and below the CLI.
ROOT = "layernet"
ROOT_FLOOR = 4.5
#: Optional dependencies: imported only inside the functions that need them.
LAZY = {"matplotlib", "torch", "onnx", "onnxruntime", "optuna", "dask", "distributed", "ray",
        "tensorboardX", "tensorboard", "numba"}
#: Core and standard-library dependencies imported where used (inside functions), so ``import
#: layernet`` stays fast: pandas, and the networking modules only a download needs.
SLOW = {"pandas", "urllib", "http"}
#: Subpackages built on optional dependencies that the package root imports on first use.
LAZY_SUBPACKAGES = {"layernet.sweeps"}


@dataclass(frozen=True)
class Import:
    """One import statement of a layernet module."""

    source: str        #: the importing module
    target: str        #: the imported module (a layernet module, or a top-level third-party name)
    line: int
    in_function: bool
    type_checking: bool


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_sources(root: Path = PACKAGE) -> dict[str, tuple[str, bool]]:
    """``{module: (source text, is a package __init__)}`` for every .py file under ``root`` (a copy)."""
    return dict(_read_sources(root))


@functools.cache
def _read_sources(root: Path) -> tuple[tuple[str, tuple[str, bool]], ...]:
    return tuple((module_name(path, root), (path.read_text(encoding="utf-8"), path.name == "__init__.py"))
                 for path in sorted(root.rglob("*.py")))


def imports_of(module: str, source: str, is_package: bool, modules: set[str]) -> Iterator[Import]:
    """Every import in ``source``, resolved against the known layernet ``modules``."""
    package = module if is_package else module.rpartition(".")[0]
    for node, in_function, type_checking in _import_statements(source):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, _resolve(alias.name, modules), node.lineno, in_function, type_checking)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                target = candidate if candidate in modules else _resolve(base, modules)
                yield Import(module, target, node.lineno, in_function, type_checking)


@functools.cache
def _import_statements(source: str) -> tuple[tuple[ast.AST, bool, bool], ...]:
    """``(import statement, inside a function, under TYPE_CHECKING)`` for each import in ``source``
    (cached: the tests check the same sources many times)."""
    return tuple(_walk(ast.parse(source), False, False))


def _walk(node: ast.AST, in_function: bool, type_checking: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr):
            continue  # imports are statements: no expression holds one
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, in_function, type_checking
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk(child, True, type_checking)
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for item in child.body:
                yield from _walk(ast.Module(body=[item], type_ignores=[]), in_function, True)
            for item in child.orelse:
                yield from _walk(ast.Module(body=[item], type_ignores=[]), in_function, type_checking)
        else:
            yield from _walk(child, in_function, type_checking)


def _resolve(name: str, modules: set[str]) -> str:
    """A layernet module name as the longest known module prefix; others as their top-level name."""
    if name == ROOT or name.startswith(ROOT + "."):
        parts = name.split(".")
        while parts and ".".join(parts) not in modules:
            parts.pop()
        return ".".join(parts) or ROOT
    return name.split(".")[0]


def floor_of(module: str) -> float:
    if module == ROOT:
        return ROOT_FLOOR
    matches = [prefix for prefix in FLOORS if module == prefix or module.startswith(prefix + ".")]
    if not matches:
        raise KeyError(f"{module} has no floor: add it to FLOORS and to docs/architecture.md")
    return FLOORS[max(matches, key=len)]


def all_imports(sources: dict[str, tuple[str, bool]]) -> list[Import]:
    modules = set(sources)
    return [item for module, (text, is_package) in sources.items()
            for item in imports_of(module, text, is_package, modules)]


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """Every broken rule, one line each (empty when the tree follows the rules)."""
    modules = set(sources)
    found: list[str] = []
    imports = all_imports(sources)
    for module in sorted(modules):
        try:
            floor_of(module)
        except KeyError as error:
            found.append(str(error.args[0]))
    for item in imports:
        where = f"{item.source}:{item.line}"
        internal = item.target in modules
        root_lazy = item.source == ROOT and item.target in LAZY_SUBPACKAGES
        if item.in_function and not item.type_checking and item.target.split(".")[0] not in LAZY | SLOW \
                and not root_lazy:
            found.append(f"{where}: imports {item.target} inside a function (only optional "
                         f"dependencies {sorted(LAZY)} and {sorted(SLOW)} may be imported lazily)")
        if not item.in_function and not item.type_checking and item.target in LAZY | SLOW:
            found.append(f"{where}: imports the optional dependency {item.target} at module level "
                         f"(import it inside the function that uses it)")
        if not internal:
            continue
        if item.target == ROOT:
            found.append(f"{where}: imports the package root 'layernet'; import the defining module")
        elif item.target.startswith("layernet.cli") and not (
                item.source.startswith("layernet.cli") or item.source == "layernet.__main__"):
            found.append(f"{where}: imports {item.target}; only the entry point may import the CLI")
        elif _floor(item.source) < _floor(item.target):
            found.append(f"{where}: imports {item.target} from a higher floor "
                         f"({_floor(item.target):g} > {_floor(item.source):g})")
    found += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(imports, modules)]
    return found


def _floor(module: str) -> float:
    try:
        return floor_of(module)
    except KeyError:
        return 0


def graph(imports: list[Import], modules: set[str]) -> dict[str, set[str]]:
    """Runtime edges between layernet modules (``TYPE_CHECKING`` imports never run)."""
    edges: dict[str, set[str]] = {module: set() for module in modules}
    for item in imports:
        if item.target in modules and not item.type_checking and item.target != item.source:
            edges[item.source].add(item.target)
    return edges


def cycles(imports: list[Import], modules: set[str]) -> list[list[str]]:
    """One example cycle per strongly connected group of two or more modules (Tarjan)."""
    edges = graph(imports, modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                group.append(item)
                if item == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group) + [sorted(group)[0]])

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(modules):
        if node not in index:
            visit(node)
    return groups


def render_graph(sources: dict[str, tuple[str, bool]]) -> str:
    """The import graph as text: each module with its floor and the layernet modules it imports."""
    modules = set(sources)
    edges = graph(all_imports(sources), modules)
    lines = []
    for module in sorted(modules, key=lambda m: (floor_of(m), m)):
        targets = ", ".join(sorted(t.removeprefix("layernet.") for t in edges[module])) or "-"
        lines.append(f"[{floor_of(module):g}] {module.removeprefix('layernet.') or 'layernet'} -> {targets}")
    return "\n".join(lines)


# -- the tests ------------------------------------------------------------------------------------

def test_the_package_follows_the_rules() -> None:
    problems = violations(package_sources())
    assert not problems, "\n".join(problems)


def test_the_graph_has_every_module_on_a_floor() -> None:
    text = render_graph(package_sources())
    assert "[1] errors -> -" in text and "[5] cli" in text


def _with(module: str, source: str, package: bool = False) -> dict[str, tuple[str, bool]]:
    sources = package_sources()
    sources[module] = (source, package)
    return sources


@pytest.mark.parametrize("module, source, message", [
    ("layernet.layers.bad", "from ..config import load_run_config\n", "from a higher floor"),
    ("layernet.model_extra", "from .training import fit\n", "from a higher floor"),
    ("layernet.data.bad", "from ..cli import main\n", "only the entry point may import the CLI"),
    ("layernet.errors_extra", "import layernet\n", "imports the package root"),
    ("layernet.losses_extra", "def f():\n    from .model import Sequential\n    return Sequential\n",
     "inside a function"),
    ("layernet.training.bad", "import matplotlib\n", "optional dependency matplotlib at module level"),
    ("layernet.data.slow", "import pandas as pd\n", "optional dependency pandas at module level"),
    ("layernet.unplaced", "x = 1\n", "has no floor"),
])
def test_an_offending_module_is_caught(module: str, source: str, message: str) -> None:
    problems = violations(_with(module, source))
    assert any(message in line and module in line for line in problems), problems


def test_a_cycle_is_caught_even_through_a_function_body() -> None:
    sources = _with("layernet.training.ping", "from . import pong\n")
    sources["layernet.training.pong"] = ("def f():\n    from . import ping\n", False)
    problems = violations(sources)
    assert any("import cycle: layernet.training.ping -> layernet.training.pong" in line
               for line in problems), problems


def test_optional_dependencies_may_be_imported_lazily() -> None:
    sources = _with("layernet.cli.extra", "def plot():\n    import matplotlib.pyplot as plt\n    return plt\n")
    assert not violations(sources)


if __name__ == "__main__":
    print(render_graph(package_sources()))


def test_import_layernet_loads_no_optional_or_slow_package() -> None:
    """What the static rules promise, in a fresh interpreter: ``import layernet`` stays light,
    and ``ln.sweep`` still resolves to the function (its subpackage loads on first use)."""
    heavy = sorted(LAZY | LAZY_SUBPACKAGES | {"pandas", "urllib.request", "http.client"})  # (pathlib uses urllib.parse)
    code = (f"import sys, layernet; print([m for m in {heavy!r} if m in sys.modules]); "
            "print(layernet.sweep.__module__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent, timeout=120)
    assert result.stdout.split("\n")[:2] == ["[]", "layernet.sweeps.driver"], result.stdout
