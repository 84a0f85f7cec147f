"""`concdiag check` and `concdiag diff` on saved profiles: exit codes for every failure mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA
from gate_helpers import recorded_profile

BASE = DATA / "diff" / "base.profile.json"  # processes doing CPU work: fits
HEAD = DATA / "diff" / "head.profile.json"  # the same work on a thread pool: contradicted


def concdiag(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "concdiag", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, **(env or {})},
        timeout=60,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("concdiag: error:"), proc.stderr
    assert needle in lines[0], proc.stderr


def test_check_saved_profile_that_fails_the_default_policy(tmp_path: Path) -> None:
    proc = concdiag("check", str(HEAD), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "concdiag check: FAILED" in proc.stdout
    assert "[FAIL] model-contradiction" in proc.stdout
    assert "::error" not in proc.stdout  # annotations only on GitHub or when asked


def test_check_saved_profile_that_passes(tmp_path: Path) -> None:
    proc = concdiag("check", str(BASE), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "concdiag check: passed" in proc.stdout


def test_options_may_follow_saved_profiles(tmp_path: Path) -> None:
    sarif, junit, result = tmp_path / "r.sarif", tmp_path / "j.xml", tmp_path / "r.json"
    proc = concdiag(
        "check",
        str(HEAD),
        "--sarif",
        str(sarif),
        "--junit",
        str(junit),
        "--result",
        str(result),
        "--root",
        "/tmp/concdiag-diff-fixture",
        "--annotations",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "::error file=work.py,line=22,title=concdiag model-contradiction (work)::" in proc.stdout
    assert json.loads(result.read_text())["exit_code"] == 1
    assert sarif.is_file() and junit.is_file()


def test_github_actions_gets_annotations_and_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "step-summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = concdiag(
        "check", str(HEAD), "--root", "/tmp/concdiag-diff-fixture", cwd=tmp_path, env=env
    )
    assert proc.returncode == 1
    assert "::error file=work.py,line=22," in proc.stdout
    assert summary.read_text().startswith("## concdiag check: ❌ failed")


def test_several_profiles_of_one_target_are_repeated_runs(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    proc = concdiag("check", str(HEAD), str(HEAD), "--result", str(result), cwd=tmp_path)
    assert proc.returncode == 1
    (target,) = json.loads(result.read_text())["targets"]
    assert target["measurement"]["runs"] == 2


def test_policy_from_pyproject_applies_to_saved_profiles(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.concdiag]\nfail_on_mismatch = false\n")
    assert concdiag("check", str(HEAD), cwd=tmp_path).returncode == 0
    policy = tmp_path / "strict.toml"
    policy.write_text("max_gil_wait_share = 0.2\nfail_on_mismatch = 'never'\n")
    proc = concdiag("check", "--policy", str(policy), str(HEAD), cwd=tmp_path)
    assert proc.returncode == 1
    assert "[FAIL] gil-wait-share" in proc.stdout


@pytest.mark.parametrize(
    ("setup", "args", "needle"),
    [
        (
            "[tool.concdiag]\nmin_confidnce = 0.5\n",
            ["check", "x.json"],
            "unknown key 'min_confidnce'",
        ),
        ("[tool.concdiag]\nrepeat = -1\n", ["check", "x.json"], "repeat must be"),
        ("", ["check"], "nothing to check"),
        ("", ["check", "missing.json"], "cannot read profile missing.json"),
        ("", ["check", "pyproject.toml.json"], "is not valid JSON"),
        ("", ["check", "no_such_script.py"], "no such script: no_such_script.py"),
        ("", ["check", "--repeat", "3", str(HEAD)], "--repeat applies when profiling"),
        ("", ["check", "--repeat", "0", str(HEAD)], "Invalid value for '--repeat'"),
        ("", ["check", "--sarif", "/proc/x/y.sarif", str(HEAD)], "cannot create output folder"),
        (
            "[[tool.concdiag.targets]]\nscript = 'gone.py'\n",
            ["check"],
            "no such script: gone.py (target 'gone'",
        ),
        ("", ["diff", str(HEAD)], "Missing argument 'HEAD.json'"),
        ("", ["diff", str(HEAD), "missing.json"], "cannot read missing.json"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    tmp_path: Path, setup: str, args: list[str], needle: str
) -> None:
    if setup:
        (tmp_path / "pyproject.toml").write_text(setup)
    (tmp_path / "pyproject.toml.json").write_text("{not json")
    proc = concdiag(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    if needle.startswith("Missing") or needle.startswith("Invalid"):
        assert needle in proc.stderr
    else:
        one_line_error(proc, needle)


def test_not_a_profile_exits_2(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"schema": "something-else"}')
    proc = concdiag("check", str(other), cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc, "not a concdiag profile")


def test_diff_exit_codes(tmp_path: Path) -> None:
    regressed = concdiag("diff", str(BASE), str(HEAD), cwd=tmp_path)
    assert regressed.returncode == 1, regressed.stderr
    assert "gil_wait_share:" in regressed.stdout and "REGRESSED" in regressed.stdout
    assert "margins:" in regressed.stdout
    assert concdiag("diff", str(HEAD), str(HEAD), cwd=tmp_path).returncode == 0
    assert concdiag("diff", "--exit-zero", str(BASE), str(HEAD), cwd=tmp_path).returncode == 0


def test_diff_thresholds_from_options_and_policy(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.concdiag.diff]\nfail_on_new_mismatch = false\n")
    proc = concdiag("diff", str(BASE), str(HEAD), cwd=tmp_path)
    assert proc.returncode == 1  # GIL contention still regressed
    loose = concdiag(
        "diff",
        "--max-gil-wait-increase",
        "0.9",
        "--max-wall-increase",
        "1",
        str(BASE),
        str(HEAD),
        cwd=tmp_path,
    )
    assert loose.returncode == 0, loose.stdout
    assert "limit +90 points" in loose.stdout


def test_diff_of_saved_results_writes_every_output(tmp_path: Path) -> None:
    md = tmp_path / "diff.md"
    sarif = tmp_path / "diff.sarif"
    proc = concdiag(
        "diff",
        str(DATA / "diff" / "base.result.json"),
        str(DATA / "diff" / "head.result.json"),
        "--markdown",
        str(md),
        "--sarif",
        str(sarif),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    text = md.read_text()
    assert "| gil\\_wait\\_share |" in text
    assert "Per-thread state shares" in text
    assert "noise margin" in text
    assert json.loads(sarif.read_text())["runs"][0]["results"]


def test_check_with_a_baseline_adds_the_diff_rules(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    proc = concdiag(
        "check", str(HEAD), "--baseline", str(BASE), "--result", str(result), cwd=tmp_path
    )
    assert proc.returncode == 1
    (target,) = json.loads(result.read_text())["targets"]
    rules = {f["rule"]: f["outcome"] for f in target["findings"]}
    assert rules["model-contradiction"] == "failed"
    assert rules["gil-wait-regression"] == "failed"
    assert target["baseline"]["current_model"] == "multiprocessing"


def test_check_with_a_missing_baseline_says_so(tmp_path: Path) -> None:
    proc = concdiag("check", str(BASE), "--baseline", str(tmp_path / "none.json"), cwd=tmp_path)
    assert proc.returncode == 0
    assert "No baseline at" in proc.stdout


def test_quiet_prints_nothing_and_leaves_the_step_summary_alone(tmp_path: Path) -> None:
    summary = tmp_path / "s.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = concdiag("check", "-q", "--exit-zero", str(HEAD), cwd=tmp_path, env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert not summary.exists()


def test_serial_profile_passes_with_advice(tmp_path: Path) -> None:
    """The default policy on a recorded serial run: passed, and the advice says how."""
    saved = tmp_path / "cpu_serial.json"
    saved.write_text(recorded_profile("cpu_serial", tmp_path).to_json())
    proc = concdiag("check", str(saved), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "concdiag check: passed" in proc.stdout
    assert "[note] advice" in proc.stdout
    assert "ProcessPoolExecutor" in proc.stdout
