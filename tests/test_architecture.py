"""The shape issue 10 set: no module reaches into another's privates, none grows past 400 lines.

Checked on the source itself (AST), so a change that breaks the rule fails here with the
file and line to look at.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "concdiag"
MAX_LINES = 400
MODULES = sorted(SRC.rglob("*.py"))


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


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_module_name(path)} has {lines} lines; split it by concern"
