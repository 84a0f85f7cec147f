"""The house rules: who may import whom, checked on the source itself (AST).

A change that breaks a rule fails here with the file and line to look at.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "concdiag"
TESTS = Path(__file__).resolve().parent
MODULES = sorted(SRC.rglob("*.py"))
AGENT = SRC / "agent"
TEST_MODULES = sorted(p for p in TESTS.rglob("*.py") if "data" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: Path) -> str:
    if not path.is_relative_to(SRC.parent):
        return ""
    return ".".join(path.relative_to(SRC.parent).parent.parts)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(path: Path) -> list[str]:
    """Imports in ``path`` of a private name, or of a private module outside its package."""
    found = []
    package = _package_of(path)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not node.module.startswith("concdiag"):
                continue
            modules = [node.module]
            names = [alias.name for alias in node.names]
            for name in names:
                if _private(name):
                    found.append(f"{path.name}:{node.lineno} imports {node.module}.{name}")
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names if alias.name.startswith("concdiag")]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            for i, part in enumerate(parts):
                owner = ".".join(parts[:i])
                if _private(part) and owner != package:
                    found.append(f"{path.name}:{node.lineno} imports private module {module}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    problems = [p for path in MODULES for p in private_imports(path)]
    assert problems == []


def test_the_check_catches_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from concdiag.analysis.accounting import _secret\n")
    assert private_imports(bad) == ["bad.py:1 imports concdiag.analysis.accounting._secret"]


def test_no_test_imports_a_modules_private_names() -> None:
    problems = [p for path in TEST_MODULES for p in private_imports(path)]
    assert problems == []


def _guarded_imports(tree: ast.AST) -> list[ast.AST]:
    """Imports inside a ``try`` that handles ImportError: optional by construction (deep
    mode's yappi, loaded from the target's environment when it has it)."""
    guarded: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
            for h in node.handlers
        ):
            for statement in node.body:
                guarded.extend(
                    n for n in ast.walk(statement) if isinstance(n, ast.Import | ast.ImportFrom)
                )
    return guarded


def foreign_imports(path: Path, root: Path = SRC) -> list[str]:
    """Imports in an agent module of anything but the standard library and the agent itself.

    The agent runs in the target's interpreter, which may not have concdiag or any package
    installed: an absolute import of ``concdiag`` or a third-party module would fail there.
    """
    tree = ast.parse(path.read_text(), str(path))
    found = []
    optional = {id(node) for node in _guarded_imports(tree)}
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level > 0:
                continue  # relative: the agent's own modules
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top != "__future__" and top not in sys.stdlib_module_names:
                found.append(f"{path.relative_to(root)}:{node.lineno} imports {name}")
    return found


@pytest.mark.parametrize("path", sorted(AGENT.rglob("*.py")), ids=_module_name)
def test_the_agent_imports_only_the_standard_library_and_itself(path: Path) -> None:
    assert foreign_imports(path) == []


def test_the_agent_check_catches_a_concdiag_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import json\nfrom . import common\nfrom concdiag.model import Profile\nimport yappi\n"
    )
    assert foreign_imports(bad, tmp_path) == [
        "bad.py:3 imports concdiag.model",
        "bad.py:4 imports yappi",
    ]


def test_nothing_outside_the_agent_runs_in_the_target() -> None:
    """Everything the launcher starts in the target is in the agent's folder."""
    from concdiag.collectors.target_invocation import BOOTSTRAP

    assert BOOTSTRAP.parent == AGENT


#: What each layer may import of concdiag, bottom up. The record contract (`recording`) sits
#: below both the collectors that write it and the analysis that reads it, so neither needs
#: the other; renderers read only the profile model.
MAY_IMPORT = {
    "agent": set(),
    "recording": {"fileio", "errors"},
    "model": {"errors", "migrations"},
    "analysis": {"recording", "model", "own_code", "redact", "errors", "migrations", "formatting"},
    "render": {"model", "own_code", "redact", "errors", "migrations", "formatting"},
    "collectors": {"agent", "recording", "errors", "interrupts", "fileio", "own_code"},
}


def concdiag_imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package of concdiag) of each absolute import of concdiag in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, m.split(".")[1]) for m in modules if m.startswith("concdiag.")]
    return found


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_each_layer_imports_only_what_sits_below_it(layer: str) -> None:
    allowed = MAY_IMPORT[layer] | {layer}
    problems = [
        f"{path.relative_to(SRC)}:{line} imports concdiag.{package}"
        for path in sorted((SRC / layer).rglob("*.py"))
        for line, package in concdiag_imports(path)
        if package not in allowed
    ]
    assert problems == []


def test_the_layer_check_catches_the_analysis_importing_a_collector(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from concdiag.collectors.procfs import ProcSampler\n")
    assert concdiag_imports(bad) == [(1, "collectors")]
    assert "collectors" not in MAY_IMPORT["analysis"]
