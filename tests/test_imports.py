"""Imports run downward: no module imports one that imports it back, and no layer reaches up.

Every import counts: at the top, inside a function, and under ``TYPE_CHECKING``, because a
type-only import still ties two modules together for a reader and for the type checker.

The layers, bottom to top: the libraries (config, schemas, privacy, routing, transport, llama,
engine, sync …), ``http`` (the FastAPI app, which sees a node only through protocols), the tiers
(``edge`` and ``cloud``, which never import each other), ``server`` and ``demo``, then the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import edgesplit

PACKAGE = Path(edgesplit.__file__).parent
TIERS = ("edgesplit.edge", "edgesplit.cloud")
_RANKS = {"edgesplit.http": 1, "edgesplit.edge": 2, "edgesplit.cloud": 2, "edgesplit.server": 3, "edgesplit.demo": 3}
_TOP = ("edgesplit.cli", "edgesplit.__main__", "edgesplit")  # the CLI and the lazy public API sit above all


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports, wherever the import sits in the file."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: the package, up ``level - 1`` steps, then the module named
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            # `from pkg import sub` imports the submodule; `from mod import name` imports mod
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names)
    return {target for target in found if target in known and target != name}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, set(known)) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def rank(name: str) -> int:
    if name in _TOP or name.startswith("edgesplit.cli."):
        return 4
    return next((r for prefix, r in _RANKS.items() if name == prefix or name.startswith(prefix + ".")), 0)


def tier(name: str) -> str | None:
    return next((t for t in TIERS if name == t or name.startswith(t + ".")), None)


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import that reaches a higher layer, or from one tier into the other."""
    bad = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            crosses = tier(source) is not None and tier(target) not in (None, tier(source))
            if rank(target) > rank(source) or crosses:
                bad.append(f"{source} -> {target}")
    return bad


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(import_graph()) == []


def test_no_layer_imports_a_higher_one_and_the_tiers_stay_apart() -> None:
    assert upward(import_graph()) == []


def test_the_walk_sees_type_only_function_level_and_relative_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from edgesplit.edge.node import EdgeNode\n"
        "def f():\n    from ..routing import learned\n"
        "import edgesplit.schemas\n"
    )
    known = {"edgesplit.edge.node", "edgesplit.routing.learned", "edgesplit.schemas", "edgesplit.http.m"}
    assert imports_of("edgesplit.http.m", source, known) == {
        "edgesplit.edge.node",
        "edgesplit.routing.learned",
        "edgesplit.schemas",
    }


def test_the_checks_catch_a_cycle_and_an_upward_import() -> None:
    graph = {"edgesplit.http.node": {"edgesplit.edge.feedback"}, "edgesplit.edge.feedback": {"edgesplit.http.node"}}
    assert cycles(graph) == [["edgesplit.edge.feedback", "edgesplit.http.node"]]
    assert upward(graph) == ["edgesplit.http.node -> edgesplit.edge.feedback"]
    assert upward({"edgesplit.cloud.node": {"edgesplit.edge.outbox"}}) == [
        "edgesplit.cloud.node -> edgesplit.edge.outbox"
    ]
