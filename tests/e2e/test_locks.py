"""Locks for real: the deadlock and convoy sample targets, and attach on a hang.

Each sample target's run is shared with test_sample_targets (the `sample_runs` fixture). The
figures of the convoy's, the shared resource's and the lock-bound verdict's locks are checked
on their recorded runs (tests/test_sample_verdicts.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import SAMPLES, concdiag
from helpers import check_deadlock_cycle, line_of

pytestmark = pytest.mark.e2e

#: What tests/conftest.py's SAMPLE_OPTIONS gives the deadlock sample target.
DEADLOCK_AFTER_S = 1.0


def test_a_deadlock_ends_the_target_and_names_both_locks_and_threads(sample_runs: Any) -> None:
    script = SAMPLES / "deadlock.py"
    run = sample_runs(script)
    assert run.code == 5, run.stderr
    assert run.wall_s < DEADLOCK_AFTER_S + 5, f"took {run.wall_s:.1f} s"
    data: dict[str, Any] = run.profile
    assert data["verdict"]["bound"] == "deadlock"
    assert data["run"]["partial"] is True
    waits = check_deadlock_cycle(data, script)
    deadlock = data["locks"]["deadlock"]
    for stack in deadlock["stacks"]:
        assert stack["frames"][-1]["line"] == waits, stack
    html = run.html_path.read_text()
    assert 'data-testid="deadlock"' in html and "transfer-a-to-b" in html
    assert "no model until the deadlock is fixed" in run.stderr
    why = next(line for line in run.stderr.splitlines() if line.startswith("  why: "))
    assert "transfer-a-to-b waits at" in why and "transfer-b-to-a waits at" in why
    md = concdiag("report", str(run.json_path), "--format", "md").stdout
    assert "**Deadlock**" in md and f"deadlock\\.py:{waits}" in md


def test_the_convoys_hot_lock_is_first(sample_runs: Any) -> None:
    """The tracker's tables from a live run: which lock, where, how many waited on it."""
    script = SAMPLES / "lock_convoy.py"
    run = sample_runs(script)
    assert run.code == 0, run.stderr
    locks = run.profile["locks"]
    hot = locks["locks"][0]
    assert hot["name"] == "CompressedLog.lock"
    assert hot["created_at"]["line"] == line_of(script, "self.lock = threading.Lock()")
    assert hot["waiting_threads"] == 12
    assert hot["wait_s"] > 0 and hot["waiters_sync_s"] > 0
    html = run.html_path.read_text()
    first_row = html.index('<tr id="lock-')
    assert html[first_row:].startswith(f'<tr id="lock-{hot["id"]}"')


def test_attach_on_a_hung_process_says_likely_deadlock(tmp_path: Path) -> None:
    target = subprocess.Popen(
        [sys.executable, str(SAMPLES / "deadlock.py")],
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)  # the two transfers are stuck after 0.2 s
        proc = concdiag(
            "attach",
            str(target.pid),
            "--duration",
            "2",
            "--deadlock-after",
            "1",
            "--json",
            str(tmp_path / "p.json"),
            "-o",
            str(tmp_path / "p.html"),
            timeout=60,
        )
    finally:
        target.kill()
        target.wait()
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["verdict"]["bound"] == "deadlock"
    deadlock = data["locks"]["deadlock"]
    assert deadlock["confirmed"] is False
    assert deadlock["message"].startswith("Every thread blocked on locks with no progress for")
    waits = line_of(SAMPLES / "deadlock.py", "with target.lock:")
    assert f"transfer-a-to-b waits at deadlock.py:{waits}" in deadlock["message"]
    assert "likely deadlock" in proc.stderr.lower()
