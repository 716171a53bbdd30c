"""The package's import graph has no cycles, between subpackages or between modules, so each
layer (domain, data, synthetic, features, models, explain, ...) builds only on those below."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def module_graph() -> dict[str, set[str]]:
    """clm module -> the clm modules it imports (``from clm import paths`` is ``clm.paths``)."""
    files = {
        ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): path
        for path in (SRC / "clm").rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clm"):
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    targets.add(child if child in files else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("clm."))
        graph[module] = (targets & set(files)) - {module}
    return graph


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_imports_itself_through_others() -> None:
    graphlib.TopologicalSorter(module_graph()).prepare()  # raises CycleError on a cycle


def test_no_cycles_between_subpackages() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in module_graph().items():
        source = package_of(module)
        packages.setdefault(source, set()).update(
            package_of(t) for t in targets if package_of(t) != source
        )
    graphlib.TopologicalSorter(packages).prepare()


def test_domain_imports_nothing_above_it() -> None:
    domain = {m: t for m, t in module_graph().items() if m.startswith("clm.domain")}
    assert domain, "clm.domain is missing"
    above = {t for targets in domain.values() for t in targets if package_of(t) != "clm.domain"}
    assert above <= {"clm.config", "clm.safe_yaml"}, f"clm.domain imports {sorted(above)}"
