"""The package's layering: no import cycle among runner's modules, and every package imports
only what its docstring's "May import:" line allows.

Every import counts: at the top of a module, inside functions (an import there is for
start-up time, never to break a cycle) and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "runner"
FOUNDATION = {"errors", "values", "atomic", "collector", "quickhash", "jsontext", "interrupts", "project", "resources", "tracking",
              "progress", "masking"}
UNRESTRICTED = {"cli", "__main__"}  # the top: it may import anything below it


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The runner modules `name` imports, anywhere in its text."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[:len(package.split(".")) - node.level + 1], *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target != "runner":
                found.add(target)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for succ in edges:
                if succ not in graph:
                    continue
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def unit(module: str) -> str:
    """`runner.reconcile.plan` -> `reconcile`; `runner.errors` -> `errors`."""
    return module.split(".")[1]


def allowed(root: Path = PACKAGE) -> dict[str, set[str] | None]:
    """Each package's (or top-level module's) "May import:" list; None where it is unrestricted."""
    declared: dict[str, set[str] | None] = {}
    for path in [*root.glob("*/__init__.py"), *(p for p in root.glob("*.py") if p.name != "__init__.py")]:
        name = path.parent.name if path.name == "__init__.py" else path.stem
        if name in UNRESTRICTED or name in FOUNDATION:
            declared[name] = None if name in UNRESTRICTED else set(FOUNDATION)
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        match = re.search(r"May import:(.*?)(?:\n\s*\n|\Z)", doc, re.S)
        assert match, f"{path.relative_to(root.parent)}: its docstring must say what it may import ('May import: ...')"
        names = set(re.findall(r"runner\.(\w+)", match.group(1)))
        if "foundation" in match.group(1):
            names |= FOUNDATION
        declared[name] = names
    return declared


def violations(graph: dict[str, set[str]], declared: dict[str, set[str] | None]) -> list[str]:
    found = []
    for source, targets in sorted(graph.items()):
        rule = declared.get(unit(source)) if source != "runner" else None
        for target in sorted(targets):
            if rule is not None and unit(target) != unit(source) and unit(target) not in rule:
                found.append(f"{source} imports {target}, but runner.{unit(source)} may not import runner.{unit(target)}")
    return found


def test_no_import_cycle_among_runners_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_every_package_imports_only_what_its_docstring_allows() -> None:
    assert violations(import_graph(), allowed()) == []


def test_the_declared_layers_have_no_cycle() -> None:
    declared = allowed()
    layers = {name: {t for t in (rule or set()) if t != name} for name, rule in declared.items()
              if rule is not None and name not in FOUNDATION}
    assert cycles({k: v & set(layers) for k, v in layers.items()}) == []


def _graph(edges: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    return graph


@pytest.mark.parametrize(("edges", "expected"), [
    ([("a", "b"), ("b", "c")], []),
    ([("a", "b"), ("b", "a")], [["a", "b"]]),
    ([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")], [["a", "b", "c"]]),
])
def test_the_cycle_finder_finds_cycles(edges: list[tuple[str, str]], expected: list[list[str]]) -> None:
    assert cycles(_graph(edges)) == expected


def test_an_import_inside_a_function_or_under_type_checking_counts(tmp_path: Path) -> None:
    root = tmp_path / "runner"
    (root / "low").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "low" / "__init__.py").write_text('"""Low.\n\nMay import: the foundation modules.\n"""\n')
    (root / "low" / "a.py").write_text("def f():\n    from runner.high import b\n")
    (root / "high.py").write_text('"""High.\n\nMay import: runner.low.\n"""\nTYPE_CHECKING = False\n'
                                  "if TYPE_CHECKING:\n    from runner.low.a import f\n")
    graph = import_graph(root)
    assert graph["runner.low.a"] == {"runner.high"} and graph["runner.high"] == {"runner.low.a"}
    assert cycles(graph) == [["runner.high", "runner.low.a"]]
    assert violations(graph, allowed(root)) == [
        "runner.low.a imports runner.high, but runner.low may not import runner.high"]
