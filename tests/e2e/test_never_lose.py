"""Launch mode: a report is always written, and the exit code says what happened."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e


#: concdiag runs these tests started, ended (with their targets) when each test ends, whether
#: it passed or not: a test that fails before it signals concdiag must not leave it running.
_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _end_what_was_started() -> Iterator[None]:
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: concdiag and its target
            except ProcessLookupError:
                pass
            proc.communicate()


def _start(script: Path, tmp_path: Path) -> subprocess.Popen[str]:
    scratch = tmp_path / "scratch"  # concdiag's own temporary folders, apart from other runs'
    scratch.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "concdiag",
            "profile",
            "--json",
            str(tmp_path / "p.json"),
            "-o",
            str(tmp_path / "p.html"),
            str(script),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # signals go to concdiag only, as `kill PID` would
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    _STARTED.append(proc)
    return proc


def _wait_target(proc: subprocess.Popen[str], timeout_s: float = 20.0) -> psutil.Process:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in psutil.Process(proc.pid).children():
            if "agent/bootstrap.py" in " ".join(child.cmdline()):
                time.sleep(1.0)
                return child
        time.sleep(0.05)
    raise AssertionError("the target never started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_concdiag_writes_a_partial_report(tmp_path: Path, sig: signal.Signals) -> None:
    script = tmp_path / "forever.py"
    script.write_text("import time\nwhile True:\n    sum(range(10000)); time.sleep(0.01)\n")
    proc = _start(script, tmp_path)
    target = _wait_target(proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["run"]["partial"] is True
    assert sig.name in " ".join(data["run"]["partial_reasons"])
    assert not target.is_running() or target.status() == psutil.STATUS_ZOMBIE


def test_second_interrupt_quits_at_once_and_leaves_no_half_file(tmp_path: Path) -> None:
    script = tmp_path / "forever.py"
    script.write_text("import time\nwhile True:\n    time.sleep(0.01)\n")
    proc = _start(script, tmp_path)
    _wait_target(proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert not list(tmp_path.glob(".*.tmp"))
    assert not list((tmp_path / "scratch").glob("concdiag-inprocess-*"))  # its scratch is gone
    for path in tmp_path.glob("p.json"):
        json.loads(path.read_text())  # whatever was written is whole


def test_target_killed_by_a_signal(tmp_path: Path, profile_run) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "killed.py"
    script.write_text("import os, signal\nsum(range(3_000_000))\nos.kill(os.getpid(), 9)\n")
    run = profile_run(str(script))
    assert run.code == 128 + 9, run.stderr  # as a shell reports a process SIGKILL ended
    assert "SIGKILL" in run.stderr
    assert run.profile["run"]["exit"]["signal"] == 9


def test_target_that_forks(tmp_path: Path, profile_run) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "forks.py"
    script.write_text(
        "import os, time\n"
        "pid = os.fork()\n"
        "end = time.time() + 1.5\n"
        "while time.time() < end:\n    sum(range(1000))\n"
        "if pid:\n    os.waitpid(pid, 0)\nelse:\n    os._exit(0)\n"
    )
    run = profile_run(str(script))
    assert run.code == 0, run.stderr
    data = run.profile
    assert len(data["processes"]) == 2
    child = next(p for p in data["processes"] if not p["is_root"])
    assert child["gil"]["measured"] is True
    assert data["tree"]["processes"] == 2


def test_pool_of_workers_is_followed_and_aggregated(tmp_path: Path, profile_run) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "pool.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "def crunch(n):\n"
        "    x = 0\n"
        "    for i in range(n):\n        x = (x * 31 + i) & 0xFFFF\n"
        "    return x\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('spawn').Pool(2) as pool:\n"
        "        print(sum(pool.map(crunch, [600_000] * 12)))\n"
    )
    run = profile_run(str(script))
    assert run.code == 0, run.stderr
    data = run.profile
    tree = data["tree"]
    assert tree is not None
    assert len(tree["workers"]) >= 2
    # Each of the two pool workers did CPU work (how much of a core depends on the machine).
    busy = sorted(w["busy_s"] for w in tree["workers"])[-2:]
    assert all(b > 0.05 for b in busy), tree
    assert tree["worker_busy_s"] == pytest.approx(sum(w["busy_s"] for w in tree["workers"]))
    assert tree["cores_used_mean"] == data["summary"]["cores_used_mean"]
    assert tree["parent_send_wait_s"] >= 0 and tree["parent_pickling_s"] >= 0
    assert str(len(tree["workers"])) in tree["note"]
    children = [p for p in data["processes"] if not p["is_root"] and p["python"]]
    assert all(p["gil"]["measured"] for p in children[:2]), "spawned workers' GIL not located"
