"""How govml's packages depend on each other: inwards only, and never in a circle.

Read from the source with `ast`: every import a module runs (at module level or inside a
function), not those under ``if TYPE_CHECKING:``, which only type checkers follow. A package
is a top-level name under ``govml`` (``govml.services``, ``govml.client``). ``govml/__init__.py``
is left out as an importer: it imports its public names only when they are first used.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src"
CORE = {"domain", "metrics", "ledger", "policy"}
OUTER = {"services", "store", "server", "ui", "cli", "client", "remote", "serving", "demo"}

KNOWN_CYCLES: dict[frozenset[str], str] = {
    frozenset({"checks", "flavors"}): "the pickle scanner (checks) is used by flavors to vet "
    "artifacts, and checks.explain reads flavors.LoadedModel",
    frozenset({"server", "ui"}): "govml server mounts the web UI, which reads server.redact",
    frozenset({"client", "remote", "services", "serving"}): "the gateway opens the registry "
    "with govml.connect(), while services.gateway_keys and remote use the key records of "
    "serving.keys: those records belong in domain",
}
"""Cycles that existed before this test, each to be broken where it is said; no new ones."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / "govml").rglob("*.py"):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _package(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, *, runtime: bool) -> Iterator[str]:
    """Yield the govml modules ``module`` imports (only those it runs when ``runtime``)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def walk(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if runtime and isinstance(child, ast.If) and _is_type_checking(child):
                yield from (name for other in child.orelse for name in walk_one(other))
                continue
            yield from walk_one(child)

    def walk_one(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                whole = f"{base}.{alias.name}"
                yield whole if whole in MODULES else base
        yield from walk(node)

    for name in walk(ast.parse(path.read_text(encoding="utf-8"))):
        if name in MODULES:
            yield name


@functools.cache
def _graph(*, runtime: bool) -> dict[str, dict[str, set[str]]]:
    """Return ``{package: {imported package: {importing modules}}}``."""
    edges: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module in MODULES:
        if module == "govml":
            continue
        for imported in _imports(module, runtime=runtime):
            source, target = _package(module), _package(imported)
            if source != target and imported != "govml":
                edges[source][target].add(module)
    return edges


def _cycles(edges: dict[str, dict[str, set[str]]]) -> list[frozenset[str]]:
    """Return the strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _explain(cycle: frozenset[str], edges: dict[str, dict[str, set[str]]]) -> str:
    return "; ".join(
        f"{source} -> {target} ({', '.join(sorted(edges[source][target])[:3])})"
        for source in sorted(cycle)
        for target in sorted(edges[source])
        if target in cycle
    )


def test_the_reader_sees_imports() -> None:
    imported = set(_imports("govml.cli.db_cmds", runtime=True))
    assert {"govml.cli.common", "govml.errors", "govml.client"} <= imported
    assert "govml.settings" not in imported  # under TYPE_CHECKING
    assert "govml.settings" in set(_imports("govml.cli.db_cmds", runtime=False))


def test_no_new_cycle_between_packages() -> None:
    edges = _graph(runtime=True)
    cycles = _cycles(edges)
    new = [cycle for cycle in cycles if cycle not in KNOWN_CYCLES]
    assert not new, "import cycles: " + " | ".join(_explain(c, edges) for c in new)


@pytest.mark.parametrize("known", list(KNOWN_CYCLES), ids=lambda c: "-".join(sorted(c)))
def test_each_known_cycle_still_exists(known: frozenset[str]) -> None:
    assert known in _cycles(_graph(runtime=True)), f"{sorted(known)} is gone: remove it here"


def test_the_sdk_and_the_remote_client_do_not_import_each_other_at_start() -> None:
    edges = _graph(runtime=True)
    assert "client" not in edges.get("remote", {})


@pytest.mark.parametrize("core", sorted(CORE))
def test_core_packages_import_nothing_outwards(core: str) -> None:
    edges = _graph(runtime=False)
    outwards = {target: sorted(modules) for target, modules in edges[core].items()}
    assert not set(outwards) & OUTER, {t: m for t, m in outwards.items() if t in OUTER}
