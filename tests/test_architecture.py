"""The shape of the package: who imports whom, read from the source with ``ast``.

Every module of ``mcsim`` (and of ``kernels``, installed as ``mcsim.kernels``) is parsed,
never imported. The tests fail on an import cycle among mcsim modules, on an import inside a
function other than an optional dependency, on a dynamic import (``importlib.import_module``,
``__import__``) outside the custom-rule loader, and on a kernel importing anything but numpy,
numba, math, typing and its siblings. Imports under ``if TYPE_CHECKING:`` run only for type
checkers: they are collected separately and left out of the cycle check.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import mcsim

PACKAGE_DIR = Path(mcsim.__file__).parent
KERNELS_DIR = Path(mcsim.kernels.__file__).parent

# Imported inside a function on purpose, each for its reason. Keys are top-level module names.
LAZY_ALLOWED = {
    "dask": "optional dependency (the dask extra)",
    "distributed": "optional dependency (the dask extra)",
    "msvcrt": "platform choice (Windows)",
    "fcntl": "platform choice (POSIX)",
    "webbrowser": "opens a browser only when asked",
    "playwright": "optional headless browser",
    # Required, but slow to import and needed by one option each: at module level they
    # would add about 1.2 s (scikit-learn) and 0.5 s (arch) to every `import mcsim`.
    "sklearn": "Ledoit-Wolf / OAS covariance estimators and the learned policy's training",
    "arch": "GARCH fits and the bootstrap block length only",
}
# The one place that imports a module by name: custom rules named in a scenario
# ("package.module:function"), only for trusted names or with allow_code.
DYNAMIC_IMPORT_ALLOWED = {("mcsim.policies.custom", "load_function")}
# typing: the kernels' named structures (NamedTuple) of the step loop and the rule registry.
KERNEL_ALLOWED = {"numpy", "numba", "math", "typing", "__future__"}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (absolute name)
    line: int
    function: str | None  # enclosing function, if any
    type_checking: bool


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    imports: list[Import] = field(default_factory=list)
    dynamic: list[tuple[str | None, int, str]] = field(default_factory=list)


def _module_name(path: Path) -> str:
    if path.is_relative_to(KERNELS_DIR):
        parts = ["mcsim", "kernels", *path.relative_to(KERNELS_DIR).with_suffix("").parts]
    else:
        parts = ["mcsim", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    if not KERNELS_DIR.is_relative_to(PACKAGE_DIR):  # an editable install: kernels/ apart
        files += sorted(KERNELS_DIR.rglob("*.py"))
    return {_module_name(p): p for p in files if "__pycache__" not in p.parts}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: Module, names: set[str], is_package: bool) -> None:
        self.module = module
        self.names = names
        self.package = module.name if is_package else module.name.rpartition(".")[0]
        self.function: list[str] = []
        self.type_checking = 0

    def _add(self, target: str, node: ast.stmt) -> None:
        self.module.imports.append(
            Import(
                self.module.name,
                target,
                node.lineno,
                self.function[-1] if self.function else None,
                self.type_checking > 0,
            )
        )

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.function.append(getattr(node, "name", "<lambda>"))
        self.generic_visit(node)
        self.function.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if node.module is not None or not node.level:
            self._add(target, node)
        # `from pkg import name` imports the submodule pkg.name when there is one.
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            if sub in self.names:
                self._add(sub, node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
        if name in ("import_module", "__import__"):
            fn = self.function[-1] if self.function else None
            self.module.dynamic.append((fn, node.lineno, name))
        self.generic_visit(node)


def parse_package() -> dict[str, Module]:
    """Every module of the package with the imports it makes."""
    sources = _sources()
    names = set(sources)
    modules = {}
    for name, path in sources.items():
        m = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        _Visitor(m, names, path.name == "__init__.py").visit(m.tree)
        modules[name] = m
    return modules


def import_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Edges among mcsim modules made at run time (``TYPE_CHECKING`` imports left out)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for m in modules.values():
        for imp in m.imports:
            if not imp.type_checking and imp.target in modules and imp.target != m.name:
                graph[m.name].add(imp.target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected component of several modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(comp)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_closed_path(graph, comp) for comp in components]


def _closed_path(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle through the first module of ``comp`` (breadth-first)."""
    start = min(comp)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & comp):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError("a strongly connected component without a cycle")


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return parse_package()


def test_the_walk_sees_the_whole_package(modules):
    for name in ("mcsim", "mcsim.engine", "mcsim.results", "mcsim.kernels", "mcsim.plan"):
        assert name in modules
    # Subpackages and their modules are walked too (the report, data and stress packages).
    for name in ("mcsim.report", "mcsim.report.view", "mcsim.data.files", "mcsim.stress.resolve"):
        assert name in modules
    assert "mcsim.kernels._stress" in modules
    assert any(name.startswith("mcsim.kernels._") for name in modules)
    assert any(name.startswith("mcsim.policies.") for name in modules)


def test_no_import_cycle_among_mcsim_modules(modules):
    graph = import_graph(modules)
    found = cycles(graph)
    lines = [
        " -> ".join(c) + f"  (modules in the tangle: {', '.join(sorted(_component(graph, c[0])))})"
        for c in found
    ]
    assert not found, "import cycles:\n" + "\n".join(lines)


def _component(graph: dict[str, set[str]], v: str) -> set[str]:
    """Modules reachable from ``v`` that also reach ``v``."""

    def reach(start: str, edges: dict[str, set[str]]) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for w in edges[todo.pop()]:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    reverse: dict[str, set[str]] = {k: set() for k in graph}
    for a, targets in graph.items():
        for b in targets:
            reverse[b].add(a)
    return reach(v, graph) & reach(v, reverse)


def test_no_import_inside_a_function_but_optional_dependencies(modules):
    bad = [
        f"{imp.source}:{imp.line} imports {imp.target} inside {imp.function}()"
        for m in modules.values()
        for imp in m.imports
        if imp.function is not None and imp.target.split(".")[0] not in LAZY_ALLOWED
    ]
    assert not bad, "imports inside functions:\n" + "\n".join(bad)


def test_no_dynamic_import_but_the_custom_rule_loader(modules):
    bad = [
        f"{m.name}:{line} calls {call} in {fn or 'the module body'}"
        for m in modules.values()
        for fn, line, call in m.dynamic
        if (m.name, fn) not in DYNAMIC_IMPORT_ALLOWED
    ]
    assert not bad, "dynamic imports:\n" + "\n".join(bad)


def test_kernels_import_only_numpy_numba_math_and_siblings(modules):
    bad = []
    for m in modules.values():
        if not m.name.startswith("mcsim.kernels"):
            continue
        for imp in m.imports:
            sibling = imp.target.startswith("mcsim.kernels")
            if sibling and imp.target in modules:
                continue
            if not sibling and imp.target.split(".")[0] in KERNEL_ALLOWED:
                continue
            bad.append(f"{m.name}:{imp.line} imports {imp.target}")
    assert not bad, "kernels import outside numpy, numba, math and kernels:\n" + "\n".join(bad)


def test_kernels_import_their_siblings_relatively(modules):
    bad = [
        f"{m.name}:{node.lineno}"
        for m in modules.values()
        if m.name.startswith("mcsim.kernels")
        for node in ast.walk(m.tree)
        if isinstance(node, ast.ImportFrom)
        and node.level == 0
        and (node.module or "").startswith(("mcsim", "kernels"))
    ]
    assert not bad, "absolute imports of mcsim or kernels in kernels: " + ", ".join(bad)


def test_type_checking_imports_are_collected_apart(modules):
    results = modules["mcsim.results"]
    hints = {i.target for i in results.imports if i.type_checking}
    assert "mcsim.plan" in hints
    assert "mcsim.plan" not in import_graph(modules)["mcsim.results"]


# -- the checks themselves can fail --------------------------------------------------------------


def _parsed(sources: dict[str, str]) -> dict[str, Module]:
    names = set(sources)
    out = {}
    for name, text in sources.items():
        m = Module(name, Path(name), ast.parse(text))
        _Visitor(m, names, name == "mcsim").visit(m.tree)
        out[name] = m
    return out


def test_a_cycle_is_found_and_named():
    mods = _parsed(
        {
            "mcsim": "",
            "mcsim.engine": "from .results import SimulationResult\n",
            "mcsim.results": "from .report import write_report\n",
            "mcsim.report": "from .results import METRICS\n",
        }
    )
    assert cycles(import_graph(mods)) == [["mcsim.report", "mcsim.results", "mcsim.report"]]


def test_a_cycle_hidden_in_a_function_is_still_a_cycle():
    mods = _parsed(
        {
            "mcsim": "",
            "mcsim.engine": "def run():\n    from .results import R\n",
            "mcsim.results": "from .engine import HIST_LO\n",
        }
    )
    assert cycles(import_graph(mods)) == [["mcsim.engine", "mcsim.results", "mcsim.engine"]]
    (imp,) = mods["mcsim.engine"].imports
    assert imp.function == "run"


def test_a_type_checking_import_makes_no_cycle():
    mods = _parsed(
        {
            "mcsim": "",
            "mcsim.report": "from .metrics import M\n",
            "mcsim.metrics": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from .report import R\nelse:\n    import math\n"
            ),
        }
    )
    assert cycles(import_graph(mods)) == []
    kinds = {(i.target, i.type_checking) for i in mods["mcsim.metrics"].imports}
    assert ("mcsim.report", True) in kinds and ("math", False) in kinds


def test_dynamic_imports_and_submodule_imports_are_seen():
    mods = _parsed(
        {
            "mcsim": "from . import report\n",
            "mcsim.report": (
                "import importlib\n"
                "def f():\n    return importlib.import_module('mcsim.diagnostics')\n"
                "g = __import__('os')\n"
            ),
        }
    )
    assert [i.target for i in mods["mcsim"].imports] == ["mcsim.report"]
    assert mods["mcsim.report"].dynamic == [("f", 3, "import_module"), (None, 4, "__import__")]
