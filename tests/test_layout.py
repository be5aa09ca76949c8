"""The package's shape: no import cycle among mlbench's modules or among its parts (the top-level
packages and modules), counting imports inside functions, and no module over 400 lines.

Imports are read from the source with ``ast`` (every ``import`` and ``from … import`` statement,
wherever it stands, relative ones resolved), so an import hidden in a function to dodge a cycle at
load time still counts as an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlbench"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The mlbench modules ``name`` imports (a name imported from a package that is a module of
    it counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("mlbench"):
                found.add(t)
    return found


def _part(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def module_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def part_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    parts: dict[str, set[str]] = {}
    for src, targets in graph.items():
        if src == "mlbench":  # the API facade loads names lazily; it stands above every part
            continue
        parts.setdefault(_part(src), set()).update(_part(t) for t in targets if _part(t) != _part(src)
                                                   and t != "mlbench")
    return parts


def test_the_import_reader_sees_imports_inside_functions(tmp_path):
    """The reader must see what it is meant to forbid, or the checks below could never fail."""
    pkg = tmp_path / "mlbench"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("def f():\n    from mlbench.b import y\n")
    (pkg / "b.py").write_text("from .a import x\n")
    known = {"mlbench", "mlbench.a", "mlbench.a.x", "mlbench.b"}
    graph = {"mlbench.a.x": _imports("mlbench.a.x", pkg / "a" / "x.py", known),
             "mlbench.b": _imports("mlbench.b", pkg / "b.py", known)}
    assert graph == {"mlbench.a.x": {"mlbench.b"}, "mlbench.b": {"mlbench.a.x"}}
    assert _cycles(graph) == [["mlbench.a.x", "mlbench.b"]]
    assert _cycles(part_graph(graph)) == [["mlbench.a", "mlbench.b"]]


def test_no_import_cycle_among_modules():
    cycles = _cycles(module_graph())
    assert not cycles, "import cycles among modules: " + " | ".join(" <-> ".join(c) for c in cycles)


def test_no_import_cycle_among_parts():
    cycles = _cycles(part_graph(module_graph()))
    assert not cycles, "import cycles among mlbench's parts: " + " | ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_400_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {n} lines (at most {MAX_LINES})"
