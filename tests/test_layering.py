"""The package layout's dependency rules, checked on the source (every ``import`` statement,
including the lazy ones inside functions): no package imports one that imports it back."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "medtl"


def _package_imports() -> dict[str, set[str]]:
    """``{package: {medtl packages its modules import}}`` for the sub-packages of medtl."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).parts
        if len(rel) < 2:
            continue  # medtl/errors.py, medtl/fileio.py: shared leaves
        pkg = rel[0]
        deps = graph.setdefault(pkg, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "medtl" and len(parts) > 1 and (ROOT / parts[1]).is_dir() and parts[1] != pkg:
                    deps.add(parts[1])
    return graph


def test_no_package_imports_one_that_imports_it_back():
    graph = _package_imports()
    for a, b in itertools.combinations(sorted(graph), 2):
        assert not (b in graph[a] and a in graph[b]), f"medtl.{a} and medtl.{b} import each other"


def test_package_graph_is_acyclic():
    graph = _package_imports()
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 1:
            pytest.fail("import cycle: " + " -> ".join(trail + [node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            visit(dep, trail + [node])
        state[node] = 2

    for pkg in sorted(graph):
        visit(pkg, [])


@pytest.mark.parametrize("low, high", [("continual", "train"), ("data", "train"), ("models", "train"),
                                       ("train", "pretrain"), ("continual", "pretrain"), ("train", "compare"),
                                       ("pretrain", "compare"), ("infer", "compare"), ("review", "compare")])
def test_lower_layers_do_not_import_higher_ones(low, high):
    assert high not in _package_imports().get(low, set()), f"medtl.{low} must not import medtl.{high}"
