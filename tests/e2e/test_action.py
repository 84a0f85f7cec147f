"""The GitHub Action (action.yml) runs as GitHub runs a composite action: its steps, with their
inputs, in a temporary git repository whose pull request moves CPU work onto threads.

A small harness stands in for the runner: it evaluates the few expressions the action uses
(``inputs.*``, ``github.action_path``, ``steps.<id>.outputs.*``, ``always()``, ``==``, ``!=``,
``&&``) and refuses any other, runs each ``run:`` with ``bash -eo pipefail`` as GitHub does,
collects ``$GITHUB_OUTPUT``, and checks what an ``uses:`` step would be given.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from e2e.conftest import ROOT
from e2e.test_ci_docs import SARIF_SCHEMA, bash, environment, project, thread_line

pytestmark = pytest.mark.e2e

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class Runner:
    """One run of the composite action with ``inputs``."""

    def __init__(self, inputs: dict[str, str], work: Path, env: dict[str, str]) -> None:
        declared = ACTION["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"not inputs of the action: {unknown}"
        self.inputs = {k: str(v.get("default", "")) for k, v in declared.items()} | inputs
        self.work = work
        self.env = env
        self.outputs: dict[str, dict[str, str]] = {}
        self.ran: dict[str, subprocess.CompletedProcess[str]] = {}
        self.uses: dict[str, dict[str, str]] = {}
        self.failed = False

    def value(self, expr: str) -> str | bool:
        expr = expr.strip()
        if " && " in expr:
            return all(self.value(part) for part in expr.split(" && "))
        for op in ("==", "!="):
            if f" {op} " in expr:
                left, right = (self.value(p) for p in expr.split(f" {op} ", 1))
                return (left == right) if op == "==" else (left != right)
        if expr == "always()":
            return True
        if expr.startswith("'") and expr.endswith("'"):
            return expr[1:-1]
        if expr == "github.action_path":
            return str(ROOT)
        if expr.startswith("inputs."):
            return self.inputs[expr.removeprefix("inputs.")]
        match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
        if match:
            return self.outputs.get(match[1], {}).get(match[2], "")
        raise AssertionError(f"the harness does not know the expression {expr!r}")

    def text(self, template: str) -> str:
        return _EXPR.sub(lambda m: str(self.value(m[1])), template)

    def should_run(self, step: dict[str, Any]) -> bool:
        condition = str(step.get("if", ""))
        if not condition:
            return not self.failed
        expr = _EXPR.fullmatch(condition)
        result = self.value(expr[1] if expr else condition)
        return bool(result) and ("always()" in condition or not self.failed)

    def run(self, tmp_path: Path) -> None:
        for n, step in enumerate(ACTION["runs"]["steps"]):
            if not self.should_run(step):
                continue
            if "uses" in step:
                self.uses[step["uses"]] = {k: self.text(v) for k, v in step["with"].items()}
                continue
            assert step["shell"] == "bash"
            output = tmp_path / f"output-{n}"
            output.write_text("")
            env = {k: self.text(str(v)) for k, v in step.get("env", {}).items()}
            assert not _EXPR.search(step["run"]), "inputs must reach scripts through env only"
            proc = bash(step["run"], self.work, {**self.env, **env, "GITHUB_OUTPUT": str(output)})
            self.ran[step["name"]] = proc
            self.failed = self.failed or proc.returncode != 0
            if "id" in step:
                lines = output.read_text().splitlines()
                self.outputs[step["id"]] = dict(line.split("=", 1) for line in lines if line)


def github_env(work: Path, tmp_path: Path) -> dict[str, str]:
    return environment(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(work),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
        }
    )


def test_the_action_fails_a_pull_request_that_puts_cpu_work_on_threads(tmp_path: Path) -> None:
    work = project(tmp_path, repeat=1)
    # the test's venv has concdiag already: install it by name, not by building the action's copy
    runner = Runner(
        {"target": "crunch.py", "install": "concdiag"}, work, github_env(work, tmp_path)
    )
    runner.run(tmp_path)
    install = runner.ran["Install concdiag"]
    assert install.returncode == 0, install.stderr
    check = runner.ran["Profile and judge"]
    assert check.returncode == 0, check.stderr  # the step records the code, the last step fails
    assert runner.outputs["check"]["exit-code"] == "1", check.stdout + check.stderr
    fail = runner.ran["Fail by the policy's exit code"]
    assert fail.returncode == 1
    line = thread_line(work)
    errors = [a for a in check.stdout.splitlines() if a.startswith("::error ")]
    assert errors and all(a.startswith(f"::error file=crunch.py,line={line},") for a in errors)
    assert "❌ failed" in (tmp_path / "step_summary.md").read_text()
    sarif_file = runner.uses["github/codeql-action/upload-sarif@v3"]["sarif_file"]
    sarif = json.loads((work / sarif_file).read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    assert sarif["runs"][0]["results"]
    result = json.loads((work / runner.outputs["check"]["result"]).read_text())
    assert result["targets"][0]["measurement"]["current_model"] == "threading"
    assert list((work / "concdiag-reports").glob("*.html"))


def test_the_action_passes_what_the_policy_allows_and_says_a_bad_input_in_one_line(
    tmp_path: Path,
) -> None:
    work = project(tmp_path, repeat=1)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=work, check=True)
    env = github_env(work, tmp_path)
    passing = Runner({"install": "concdiag", "upload-sarif": "false"}, work, env)
    passing.run(tmp_path)
    assert passing.outputs["check"]["exit-code"] == "0", passing.ran["Profile and judge"].stderr
    assert passing.ran["Fail by the policy's exit code"].returncode == 0
    assert passing.uses == {}  # upload-sarif: false
    missing = Runner({"target": "no_such.py", "install": "concdiag"}, work, env)
    missing.run(tmp_path)
    check = missing.ran["Profile and judge"]
    assert missing.outputs["check"]["exit-code"] == "2"
    assert missing.ran["Fail by the policy's exit code"].returncode == 2
    assert "Traceback" not in check.stderr and "no_such.py" in check.stderr


def test_the_default_install_is_the_actions_own_copy() -> None:
    (install,) = (s for s in ACTION["runs"]["steps"] if s["name"] == "Install concdiag")
    assert install["env"]["CONCDIAG_ACTION_PATH"] == "${{ github.action_path }}"
    assert '"${CONCDIAG_INSTALL:-$CONCDIAG_ACTION_PATH}"' in install["run"]
    assert ACTION["inputs"]["install"]["default"] == ""


def test_the_docs_use_the_action_with_its_own_inputs() -> None:
    text = (ROOT / "docs" / "ci.md").read_text()
    section = text.split("\n## The GitHub Action\n", 1)[1].split("\n## ", 1)[0]
    block = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    (job,) = block["jobs"].values()
    (step,) = (s for s in job["steps"] if "concdiag@" in s.get("uses", ""))
    assert set(step["with"]) <= set(ACTION["inputs"])
    for name in ACTION["inputs"]:
        assert f"| `{name}` |" in section, f"input {name} is not in the docs' table"
