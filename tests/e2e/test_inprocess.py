"""The in-process collector (where tracing is denied), for real: what it says, a fork, a crash.

Its verdicts on the sample targets are checked on recorded in-process runs
(tests/test_sample_verdicts.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.conftest import SAMPLES, Run

pytestmark = pytest.mark.e2e


def _profile_inprocess(script: Path, tmp_path: Path, *args: str) -> Run:
    env = dict(os.environ, CONCDIAG_FORCE_INPROCESS="1")
    json_path, html_path = tmp_path / "p.json", tmp_path / "p.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "concdiag",
            "profile",
            "--json",
            str(json_path),
            "-o",
            str(html_path),
            str(script),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, json_path, html_path)


@pytest.mark.figures
def test_inprocess_on_the_service_and_what_it_says(tmp_path: Path) -> None:
    run = _profile_inprocess(SAMPLES / "service_with_load.py", tmp_path, "3")
    assert run.code == 0, run.stderr
    data = run.profile
    detail = next(c["detail"] for c in data["run"]["collectors"] if c["name"] == "inprocess")
    assert "cannot see" in detail
    assert any("forced" in c["detail"] for c in data["run"]["collectors"])
    assert any("GIL latency probe" in c["detail"] for c in data["run"]["collectors"])
    v = data["verdict"]
    # 20 of 20 in-process runs at load 1.6-8.9: I/O share 0.85-0.96, confidence 0.99
    # (tests/e2e/measure_margins.py)
    assert (v["bound"], v["recommendation"]) == ("io", "threading")
    names = {t["name"] for p in data["processes"] for t in p["threads"]}
    assert "concdiag-inprocess" not in names and "concdiag-probe" not in names
    assert "inprocess" in run.html_path.read_text()


def test_inprocess_collector_follows_a_fork_and_survives_a_crash(tmp_path: Path) -> None:
    script = tmp_path / "fork_crash.py"
    script.write_text(
        "import os, time\n"
        "pid = os.fork()\n"
        "end = time.time() + 1.0\n"
        "while time.time() < end:\n    sum(range(1000))\n"
        "if pid:\n    os.waitpid(pid, 0)\n    os.kill(os.getpid(), 9)\n"
        "else:\n    os._exit(0)\n"
    )
    run = _profile_inprocess(script, tmp_path)
    assert run.code == 128 + 9, run.stderr
    data = run.profile
    assert data["run"]["exit"]["signal"] == 9
    assert len(data["processes"]) == 2
    assert data["run"]["sample_count"] > 50
