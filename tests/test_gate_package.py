"""The gate is one package: its old top-level modules are gone, its modules stay small, the
helpers its rules share are written once, and its renderers share one contract."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import concdiag.gate
import concdiag.gate.render
from concdiag.gate.result import GateResult, TargetResult

GATE = Path(concdiag.gate.__file__).parent
MAX_LINES = 400

OLD_MODULES = (
    "concdiag.ci",
    "concdiag.diffing",
    "concdiag.policy",
    "concdiag.result",
    "concdiag.render.result_text",
    "concdiag.render.result_markdown",
    "concdiag.render.result_json",
    "concdiag.render.sarif",
    "concdiag.render.junit",
    "concdiag.render.annotations",
    "concdiag.render.rules",
)


@pytest.mark.parametrize("name", OLD_MODULES)
def test_no_module_is_left_at_its_old_path(name: str) -> None:
    assert importlib.util.find_spec(name) is None


def test_gate_is_a_package() -> None:
    assert hasattr(concdiag.gate, "__path__")


@pytest.mark.parametrize("path", sorted(GATE.rglob("*.py")), ids=lambda p: p.name)
def test_gate_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(GATE)} has {lines} lines"


@pytest.mark.parametrize(
    "text",
    [
        "Not failing: confidence",
        "past the limit but within the noise",
        '("thread", "thread_pool")',
        '("process", "process_pool")',
    ],
)
def test_shared_rule_text_is_written_once(text: str) -> None:
    holders = [p for p in GATE.rglob("*.py") if text in p.read_text(encoding="utf-8")]
    assert len(holders) <= 1, f"{text!r} is written in {[str(p) for p in holders]}"


def _renderers() -> list[Any]:
    found = []
    for info in pkgutil.iter_modules(concdiag.gate.render.__path__):
        module = importlib.import_module(f"concdiag.gate.render.{info.name}")
        for name, value in vars(module).items():
            if name.endswith("Renderer") and isinstance(value, type):
                found.append(value())
    return found


def test_every_gate_renderer_renders_a_result_to_text() -> None:
    result = GateResult(
        command="check",
        passed=True,
        exit_code=0,
        policy_source="defaults",
        margins="none",
        targets=[TargetResult("t", ["python", "t.py"], "t.py", [], [], "passed", None, [])],
    )
    renderers = _renderers()
    assert len(renderers) == 6  # text, Markdown, JSON, SARIF, JUnit, annotations
    for renderer in renderers:
        extension = getattr(renderer, "extension", None)
        assert isinstance(extension, str) and extension.startswith("."), renderer
        assert isinstance(renderer.render(result), str), renderer
