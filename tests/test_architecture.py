"""The tree tells the architecture: the core imports nothing above it, and no module imports itself in a circle.

Every import counts: at the top of a module, inside a function, under ``if TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yolo_hooks

PACKAGE = Path(yolo_hooks.__file__).parent
CORE = "yolo_hooks.core"
CORE_MAY_IMPORT = {"yolo_hooks._version"}  # the version, in a module of its own so the core can read it


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its ``__init__``)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    files = modules()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), i.e. the import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_the_core_imports_nothing_above_it():
    upward = sorted(f"{name} -> {target}" for name, targets in import_graph().items() if name.startswith(CORE)
                    for target in targets if not target.startswith(CORE) and target not in CORE_MAY_IMPORT)
    assert upward == []


def test_no_module_imports_itself_through_others():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_top_of_the_package_holds_only_its_face():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "_version.py", "catalog.py", "cli.py"]


def test_every_hook_family_is_a_package():
    families = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert families == {"control", "core", "detection", "env", "fitness", "mirror", "notify", "plateau", "recovery",
                        "trackers", "val_loss"}
