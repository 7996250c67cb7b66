"""The layers read top-down: no import from a lower layer to a higher one, no file cycle.

Reads every import of the packages (top-level, inside functions and under
TYPE_CHECKING alike: each is a dependency) with `ast`; nothing is imported.
The layers, top first; packages on one line are siblings and must not import
each other. docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("cobrador",),  # the roof: the CLI that registers every command, the demo
    ("console", "pbxsim", "deploy"),  # the web console; the simulated PBX; container tooling
    # Staged strategies and message channels (SMS, WhatsApp, e-mail, letters); field visits;
    # debtor self-service (portal actions, identity check, assistant, payment links).
    ("outreach", "field", "selfservice"),
    ("dialer",),  # hopper, pacing, dial loop, AMI/FastAGI, inbound queue
    ("compliance",),  # rules engine, profiles, registries, caps, callback windows
    ("store",),  # SQL models, migrations, imports, the audit chain
    # Prometheus definitions; message gateways' protocol clients (SMPP, SMTP, WhatsApp
    # Cloud API), which know no business rules.
    ("metrics", "gateways"),
    ("cobrador.ground",),  # settings, user errors, the embedded Redis
)

# File cycles that exist today and are being taken apart; the test fails when one
# is gone too, so the entry is removed with the fix. None left: pbxsim's
# applications call only its kernel's public API (pbxsim/kernel.py).
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()

# Only the application code is layered; tests, benchmarks and scripts sit above it all.
NOT_LAYERED = {"tests", "bench", "scripts", "examples", "docs", "asterisk-conf"}


def find_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every package directly under root."""
    modules: dict[str, Path] = {}
    for init in sorted(root.glob("*/__init__.py")):
        package = init.parent
        if package.name in NOT_LAYERED:
            continue
        for path in package.rglob("*.py"):
            rel = path.relative_to(root)
            if "migrations" in rel.parts:  # Alembic revisions: generated, never imported
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imported_names(module: str, path: Path) -> Iterable[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            # `from pkg import module` depends on pkg.module when that is a module.
            yield from (f"{target}.{alias.name}" for alias in node.names)


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (names resolved to the nearest module)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {resolve(name) for name in _imported_names(module, path)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def layer_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> tuple[int, str]:
    """(index, package) of the longest layer prefix owning the module; index 0 is the top."""
    best: tuple[int, str] | None = None
    for index, siblings in enumerate(layers):
        for package in siblings:
            owns = module == package or module.startswith(package + ".")
            if owns and (best is None or len(package) > len(best[1])):
                best = (index, package)
    if best is None:
        raise LookupError(f"{module}: in no layer; add its package to LAYERS")
    return best


def upward_imports(graph: Mapping[str, set[str]], layers=LAYERS) -> list[str]:
    """'a -> b' for every import of a higher layer, or of a sibling package."""
    found = []
    for module, targets in sorted(graph.items()):
        here, own = layer_of(module, layers)
        for target in sorted(targets):
            there, theirs = layer_of(target, layers)
            if there < here or (there == here and theirs != own):
                found.append(f"{module} -> {target}")
    return found


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(find_modules(ROOT))


def test_every_package_has_a_layer(graph: dict[str, set[str]]) -> None:
    for module in graph:
        layer_of(module)  # raises with the module's name


def test_no_import_from_a_lower_layer_to_a_higher_one(graph: dict[str, set[str]]) -> None:
    assert upward_imports(graph) == []


def test_no_file_cycle(graph: dict[str, set[str]]) -> None:
    found = set(cycles(graph))
    assert sorted(map(sorted, found - KNOWN_CYCLES)) == []
    assert sorted(map(sorted, KNOWN_CYCLES - found)) == [], "a known cycle is gone: remove it"


# The checker itself, on a small tree of its own: it must be able to fail.


def _tree(tmp_path: Path, files: Mapping[str, str]) -> dict[str, set[str]]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(find_modules(tmp_path))


def test_given_a_low_package_importing_a_high_one_then_it_is_reported(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "top/__init__.py": "",
            "top/cli.py": "from low.base import x\n",
            "low/__init__.py": "",
            "low/base.py": "def f():\n    from top import cli\n",
        },
    )
    layers = (("top",), ("low",))
    assert upward_imports(graph, layers) == ["low.base -> top", "low.base -> top.cli"]


def test_given_siblings_importing_each_other_then_it_is_reported(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {"a/__init__.py": "", "a/m.py": "import b.n\n", "b/__init__.py": "", "b/n.py": ""},
    )
    assert upward_imports(graph, (("a", "b"),)) == ["a.m -> b.n"]


def test_given_a_nested_ground_then_the_longest_prefix_wins(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/cli.py": "from app.ground.settings import S\n",
            "app/ground/__init__.py": "",
            "app/ground/settings.py": "from ..cli import main\n",
        },
    )
    layers = (("app",), ("app.ground",))
    assert upward_imports(graph, layers) == ["app.ground.settings -> app.cli"]


def test_given_a_relative_import_cycle_then_it_is_found(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "p/__init__.py": "",
            "p/a.py": "from . import b\n",
            "p/b.py": "from .c import x\n",
            "p/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p.a import y\n",
            "p/d.py": "from p import a\n",
        },
    )
    assert cycles(graph) == [frozenset({"p.a", "p.b", "p.c"})]


def test_given_a_module_outside_every_layer_then_it_is_named() -> None:
    with pytest.raises(LookupError, match="newpkg.mod"):
        layer_of("newpkg.mod")
