"""The CI recipes in docs/ci.md run as written: a base branch, a pull request, a gate.

The commands are taken from the documentation itself (its YAML blocks), then run with bash in
a temporary git repository whose pull request moves CPU-bound Python work onto threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

DOCS = ROOT / "docs" / "ci.md"
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())

SERIAL = '''"""CPU work done serially (the base branch)."""


def crunch(seed: int) -> int:
    x, acc = seed, 0
    for _ in range(250_000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc


if __name__ == "__main__":
    print(sum(crunch(s) for s in range(4)))
'''

THREADED = '''"""The same CPU work on four threads (the pull request)."""

import threading


def crunch(seed: int, out: list[int]) -> None:
    x, acc = seed, 0
    for _ in range(250_000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    out.append(acc)


if __name__ == "__main__":
    out: list[int] = []
    threads = [threading.Thread(target=crunch, args=(s, out)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sum(out))
'''


def recipe(heading: str) -> dict[str, Any]:
    text = DOCS.read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    data: dict[str, Any] = yaml.safe_load(block)
    return data


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def project(tmp_path: Path, repeat: int) -> Path:
    """A repository with a base branch (serial) and a pull request (threads), like a CI checkout."""
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path)
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    (work / "pyproject.toml").write_text(
        f"""[project]
name = "demo"
version = "0"

[tool.concdiag]
repeat = {repeat}
max_gil_wait_share = 0.15

[[tool.concdiag.targets]]
script = "crunch.py"
time_limit_s = 60
"""
    )
    (work / "crunch.py").write_text(SERIAL)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "base", cwd=work)
    git("remote", "add", "origin", str(origin), cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    git("checkout", "-q", "-b", "pr", cwd=work)
    (work / "crunch.py").write_text(THREADED)
    git("commit", "-q", "-am", "crunch on threads", cwd=work)
    git("fetch", "-q", "origin", cwd=work)
    return work


def environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_"))}
    bindir = str(Path(sys.executable).parent)
    env.update(
        PATH=bindir + os.pathsep + env.get("PATH", ""),
        PIP_NO_INDEX="1",  # concdiag is installed already: pip must find it, not download
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        GIT_AUTHOR_NAME="ci",
        GIT_AUTHOR_EMAIL="ci@example.invalid",
        GIT_COMMITTER_NAME="ci",
        GIT_COMMITTER_EMAIL="ci@example.invalid",
        **extra,
    )
    return env


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # GitHub runs `run:` with `bash -e {0}`; GitLab runs each script line with errexit.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def thread_line(work: Path) -> int:
    lines = (work / "crunch.py").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if "threading.Thread(" in line)


def test_github_actions_workflow_runs_as_written(tmp_path: Path) -> None:
    work = project(tmp_path, repeat=2)
    summary = tmp_path / "step_summary.md"
    env = environment(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(work),
            "GITHUB_BASE_REF": "main",
            "GITHUB_STEP_SUMMARY": str(summary),
        }
    )
    (job,) = recipe("GitHub Actions")["jobs"].values()
    failed = False
    ran: dict[str, subprocess.CompletedProcess[str]] = {}
    for step in job["steps"]:
        if failed and "always()" not in str(step.get("if", "")):
            continue
        if "run" in step:
            proc = bash(step["run"], work, env)
            ran[step["name"]] = proc
            failed = failed or proc.returncode != 0
        elif step["uses"].startswith("actions/upload-artifact"):
            reports = work / step["with"]["path"]
            assert sorted(p.name for p in (reports / "head").glob("*.html")) == [
                "crunch.run1.html",
                "crunch.run2.html",
            ]
        elif step["uses"].startswith("github/codeql-action/upload-sarif"):
            sarif = json.loads((work / step["with"]["sarif_file"]).read_text())
            jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
            assert sarif["runs"][0]["results"]

    install = ran["Install concdiag"]
    assert install.returncode == 0, install.stdout + install.stderr
    base = ran["Profile the base branch (baseline)"]
    assert base.returncode == 0, base.stderr
    assert (work / "reports" / "base.json").is_file(), base.stdout + base.stderr
    gate = ran["Profile the pull request and gate it"]
    assert gate.returncode == 1, gate.stdout + gate.stderr
    # annotations on the line that creates the threads
    line = thread_line(work)
    errors = [a for a in gate.stdout.splitlines() if a.startswith("::error ")]
    assert errors, gate.stdout
    assert all(a.startswith(f"::error file=crunch.py,line={line},") for a in errors)
    result = json.loads((work / "reports" / "head.json").read_text())
    (target,) = result["targets"]
    rules = {f["rule"]: f["outcome"] for f in target["findings"]}
    assert rules["gil-wait-share"] == "failed"
    assert rules["gil-wait-regression"] == "failed"
    assert target["baseline"]["current_model"] == "serial"
    assert target["measurement"]["current_model"] == "threading"
    # the step summary holds the head's summary only (the baseline run was quiet)
    text = summary.read_text()
    assert text.count("## concdiag check") == 1
    assert "❌ failed" in text


def test_gitlab_ci_job_runs_as_written(tmp_path: Path) -> None:
    work = project(tmp_path, repeat=1)
    env = environment(
        {
            "CI_PROJECT_DIR": str(work),
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_PIPELINE_SOURCE": "merge_request_event",
        }
    )
    job = recipe("GitLab CI")["concdiag"]
    codes = []
    for line in job["script"]:
        proc = bash(line, work, env)
        codes.append(proc.returncode)
        if proc.returncode != 0:
            break
    assert codes[:-1] == [0] * (len(job["script"]) - 1), codes
    assert codes[-1] == 1, proc.stdout + proc.stderr  # the gate fails the merge request
    assert len(codes) == len(job["script"])
    junit = work / job["artifacts"]["reports"]["junit"]
    assert "<failure" in junit.read_text()
    for path in job["artifacts"]["paths"]:
        assert list((work / path).glob("head/*.html"))
    assert (work / "reports" / "base.json").is_file()
