"""The import graph of a Python package, read with ``ast`` (nothing is imported), and its cycles.

Every import counts, wherever it stands: at module level, inside a function (a lazy import still ties
the two modules together) and under ``if TYPE_CHECKING:`` (a type-only cycle is still a design cycle,
and the first refactoring that needs the name at run time turns it into an ImportError). An import names
the most specific module it reaches: ``from pkg.sub import name`` is an edge to ``pkg.sub.name`` when
that is a module, else to ``pkg.sub``. Parent packages that Python imports on the way are not edges, so
an ``__init__`` that re-exports its submodules does not make every submodule a cycle with it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterable, List, Set

Graph = Dict[str, Set[str]]


def module_names(root: Path, package: str) -> Dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file below ``root`` (the directory of ``package``)."""
    modules: Dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([package, *parts])] = path
    return modules


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base.pop()  # a module's own package
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _targets(node: ast.AST, module: str, is_package: bool, known: Set[str]) -> List[str]:
    """The known modules one import statement reaches."""
    found: List[str] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.append(name)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = _resolve_relative(module, is_package, node.level, node.module)
        else:
            base = node.module or ""
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            if candidate in known:
                found.append(candidate)
            elif base in known:
                found.append(base)
    return found


def build_graph(root: Path, package: str) -> Graph:
    """Edges module -> modules it imports, inside ``package`` only (third-party imports are left out)."""
    modules = module_names(root, package)
    known = set(modules)
    graph: Graph = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name].update(target for target in _targets(node, name, is_package, known) if target != name)
    return graph


def cycles(graph: Graph) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm), each sorted."""
    index: Dict[str, int] = {}
    lowlink: Dict[str, int] = {}
    on_stack: Set[str] = set()
    stack: List[str] = []
    components: List[List[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # Iterative, so a deep package cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = lowlink[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = lowlink[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(components)


def cycles_within(graph: Graph, prefixes: Iterable[str]) -> List[List[str]]:
    """Cycles that involve a module whose dotted name starts with one of ``prefixes``."""
    wanted = tuple(prefixes)
    return [component for component in cycles(graph) if any(name.startswith(wanted) for name in component)]


def describe(graph: Graph, component: List[str]) -> str:
    """One line per edge inside a cycle, for a failure message that says what to cut."""
    members = set(component)
    return "\n".join(
        f"  {source} -> {target}" for source in component for target in sorted(graph[source]) if target in members
    )
