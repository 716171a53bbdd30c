"""dvc.yaml against the code: every stage depends on all the clm code and data it runs.

A stage's deps are derived from its script's imports, followed through the package, plus the
packaged YAML files those modules read; editing any of them must rerun the stage, so each must
be covered by a dep (the file itself or a folder above it).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
# packaged files a module reads: resources.files("pkg").joinpath("f") or / "f", and templates
PACKAGE_DATA = re.compile(
    r'resources\.files\("([\w.]+)"\)(?:\.joinpath\(| / )"([^"]+)"'
    r'|PackageLoader\("([\w.]+)", "([^"]+)"\)'
)


def module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """The clm modules one file imports (``from clm import paths`` names the module paths)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("clm"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if module_file(child) else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("clm"))
    return found


def code_and_data_of(script: Path) -> set[Path]:
    """The script, every clm module it reaches, their packages' __init__ and packaged YAML."""
    needed, queue, seen = {script}, [script], set()
    while queue:
        path = queue.pop()
        text = path.read_text(encoding="utf-8")
        for match in PACKAGE_DATA.findall(text):
            package, name = (match[0], match[1]) if match[0] else (match[2], match[3])
            needed.add(SRC.joinpath(*package.split("."), name))
        for module in imported_modules(path) - seen:
            seen.add(module)
            file = module_file(module)
            if file is not None:
                needed.add(file)
                queue.append(file)
    return {path.relative_to(ROOT) for path in needed}


def resolve_params(text: str) -> str:
    """dvc.yaml's ``${section.key}`` templating, from params.yaml."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))

    def value(match: re.Match) -> str:
        node = params
        for key in match.group(1).split("."):
            node = node[key]
        return str(node)

    return re.sub(r"\$\{((?!item\})[\w.]+)\}", value, text)


def stages() -> dict[str, dict]:
    """dvc.yaml's stages, with ``foreach`` expanded and params templating resolved."""
    text = resolve_params((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    spec = yaml.safe_load(text)["stages"]
    expanded = {}
    for name, stage in spec.items():
        if "foreach" not in stage:
            expanded[name] = stage
            continue
        for item in stage["foreach"]:
            text = yaml.safe_dump(stage["do"]).replace("${item}", str(item))
            expanded[f"{name}@{item}"] = yaml.safe_load(text)
    return expanded


def covered(path: Path, deps: list[str]) -> bool:
    return any(path == Path(dep) or Path(dep) in path.parents for dep in deps)


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_cover_the_code_it_runs(name: str) -> None:
    stage = stages()[name]
    script = ROOT / stage["cmd"].split()[1]
    deps = [str(dep) for dep in stage["deps"]]
    missing = sorted(str(p) for p in code_and_data_of(script) if not covered(p, deps))
    assert not missing, f"stage {name} runs code that is not among its deps: {missing}"


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_list_no_code_it_does_not_run(name: str) -> None:
    """An unused code dep reruns the stage, and everything after it, on edits it cannot see."""
    stage = stages()[name]
    needed = code_and_data_of(ROOT / stage["cmd"].split()[1])
    code = [Path(dep) for dep in stage["deps"] if Path(dep).parts[0] in ("src", "pipelines")]
    unused = sorted(str(dep) for dep in code if not any(covered(p, [dep]) for p in needed))
    assert not unused, f"stage {name} lists code it does not run: {unused}"


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_exist_or_are_outputs(name: str) -> None:
    all_stages = stages()
    outs = {
        str(next(iter(out))) if isinstance(out, dict) else str(out)
        for stage in all_stages.values()
        for key in ("outs", "metrics", "plots")
        for out in stage.get(key, [])
    }
    for dep in all_stages[name]["deps"]:
        produced = any(dep == out or dep.startswith(f"{out}/") for out in outs)
        assert produced or (ROOT / dep).exists(), f"stage {name}: dep {dep} does not exist"
