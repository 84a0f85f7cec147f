"""The lock tracker inside a target, run for real in a child interpreter (3.10 to 3.13).

Each test writes a small program that installs the lock tracker (``agent/locks/tracker.py``)
the way the bootstrap does, runs it in a fresh interpreter (the test process's own locks stay
untouched), and reads the tables it wrote: exact counts, waits at the right lines, the holder's
line, lock semantics unchanged, deadlocks found (and not found where a lock is only a signal)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import BOOTSTRAP

PRELUDE = """\
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("_concdiag_bootstrap", {bootstrap!r})
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)
tracker = bootstrap.agent_module("locks.tracker")
EVENTS = []
tracker.install({{"out": {out!r}, "deadlock_after": {after!r}, "every": 64}}, EVENTS.append)
"""


def interpreters() -> list[str]:
    found = []
    for version in ("3.10", "3.11", "3.12", "3.13"):
        candidates = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python{version}"))
        python = str(candidates[-1]) if candidates else shutil.which(f"python{version}")
        if python:
            found.append(python)
    return found or [sys.executable]


def run(
    tmp_path: Path, body: str, after: float | None = None, python: str = sys.executable
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], float]:
    out = tmp_path / "locks.json"
    script = tmp_path / "target.py"
    script.write_text(
        PRELUDE.format(bootstrap=str(BOOTSTRAP), out=str(out), after=after) + textwrap.dedent(body)
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        [python, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    elapsed = time.monotonic() - t0
    tables = json.loads(out.read_text()) if out.exists() else {}
    return proc, tables, elapsed


def line_of(tmp_path: Path, marker: str) -> int:
    lines = (tmp_path / "target.py").read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text)


def site_at(tables: dict[str, Any], line: int) -> dict[str, Any]:
    return next(s for s in tables["sites"] if s["line"] == line)


BEHAVIOUR = """
import asyncio, queue, threading, time

counted = threading.Lock()  # COUNTED
for _ in range(1000):
    with counted:
        pass

hot = threading.Lock()  # HOT
def hold():
    with hot:  # HOLDER
        time.sleep(0.3)
holder = threading.Thread(target=hold)
holder.start()
time.sleep(0.1)
with hot:  # WAITER
    pass
holder.join()

# semantics are the C lock's
plain = threading.Lock()
assert plain.acquire() and not plain.acquire(False) and not plain.acquire(True, 0.01)
plain.release()
try:
    plain.acquire(False, 1)
    raise AssertionError("no ValueError")
except ValueError:
    pass
reentrant = threading.RLock()  # RLOCK
with reentrant:
    with reentrant:
        assert reentrant._is_owned()
errors = []
reentrant.acquire()
def foreign_release():
    try:
        reentrant.release()
    except RuntimeError:
        errors.append("RuntimeError")
t = threading.Thread(target=foreign_release); t.start(); t.join()
reentrant.release()
assert errors == ["RuntimeError"], errors

condition = threading.Condition()  # CONDITION
def notify_later():
    time.sleep(0.1)
    with condition:
        condition.notify()
t = threading.Thread(target=notify_later); t.start()
with condition:
    assert condition.wait(5)
t.join()

permits = threading.BoundedSemaphore(1)  # SEMAPHORE
permits.acquire()
def give_back():
    time.sleep(0.1)
    permits.release()
t = threading.Thread(target=give_back); t.start()
with permits:
    pass
t.join()
try:
    permits.release()
    raise AssertionError("no ValueError")
except ValueError:
    pass

items = queue.Queue()  # QUEUE
items.put(1)
assert items.get() == 1
ready = threading.Event()
ready.set()
assert ready.wait(1)

async def tasks():
    guard = asyncio.Lock()  # ASYNCIO
    async def hold():
        async with guard:
            await asyncio.sleep(0.1)
    async def wait():
        await asyncio.sleep(0.02)
        async with guard:  # ASYNC WAITER
            pass
    await asyncio.gather(hold(), wait())
asyncio.run(tasks())
tracker.save()
print("done")
"""


@pytest.mark.parametrize("python", interpreters(), ids=lambda p: Path(p).name)
def test_counts_waits_lines_and_semantics(tmp_path: Path, python: str) -> None:
    proc, tables, _ = run(tmp_path, BEHAVIOUR, python=python)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    counted = site_at(tables, line_of(tmp_path, "# COUNTED"))
    assert (counted["kind"], counted["acquisitions"], counted["contended"]) == ("Lock", 1000, 0)
    # the first 64 uncontended acquisitions, then one in 64 (the 128th, 192nd ... 960th)
    assert counted["timed_holds"] == 64 + (1000 // 64 - 1)
    hot = site_at(tables, line_of(tmp_path, "# HOT"))
    assert hot["contended"] == 1
    assert 0.1 <= hot["wait_s"] <= 0.5, hot  # the holder kept it 0.3 s, 0.1 s of it before
    (wait_line,) = hot["wait_sites"]
    assert wait_line[1] == line_of(tmp_path, "# WAITER")
    (holder_line,) = hot["holder_sites"]
    assert holder_line[1] == line_of(tmp_path, "# HOLDER")
    assert holder_line[3] == 1  # one waiter kept waiting
    # the hold was timed from the waiter's arrival: 0.2 s of its 0.3 s count as its longest
    assert any(h[1] == line_of(tmp_path, "# HOLDER") and h[5] >= 0.15 for h in hot["hold_sites"])
    assert hot["waiters"][0][2] == "MainThread"
    assert site_at(tables, line_of(tmp_path, "# RLOCK"))["kind"] == "RLock"
    condition = site_at(tables, line_of(tmp_path, "# CONDITION"))
    assert condition["kind"] == "Condition" and condition["notify_waits"] == 1
    semaphore = site_at(tables, line_of(tmp_path, "# SEMAPHORE"))
    assert semaphore["kind"] == "BoundedSemaphore" and semaphore["contended"] == 1
    assert site_at(tables, line_of(tmp_path, "# QUEUE"))["inside"] == "queue.Queue"
    guard = site_at(tables, line_of(tmp_path, "# ASYNCIO"))
    assert guard["kind"] == "asyncio.Lock" and guard["contended"] == 1
    assert guard["wait_sites"][0][1] == line_of(tmp_path, "# ASYNC WAITER")


OPPOSITE_ORDER = """
import threading, time
a = threading.Lock()  # LOCK A
b = threading.Lock()  # LOCK B
def one():
    with a:  # ONE TAKES A
        time.sleep(0.1)
        with b:  # ONE WAITS
            pass
def two():
    with b:  # TWO TAKES B
        time.sleep(0.1)
        with a:  # TWO WAITS
            pass
threads = [threading.Thread(target=one, name="one"), threading.Thread(target=two, name="two")]
for t in threads:
    t.start()
while not EVENTS:
    time.sleep(0.05)
print(EVENTS[0]["type"], flush=True)
# the main thread ends here: the deadlocked (non-daemon) threads must let the process exit
"""


def test_a_deadlock_is_reported_with_both_locks_and_the_process_can_end(tmp_path: Path) -> None:
    proc, tables, elapsed = run(tmp_path, OPPOSITE_ORDER, after=0.3)
    assert proc.stdout.strip() == "deadlock"
    assert elapsed < 10, "the deadlocked threads kept the interpreter from exiting"
    deadlock = tables["deadlock"]
    assert deadlock["deadlock_after_s"] == 0.3
    assert 0.3 <= deadlock["detected_s"] - deadlock["formed_s"] <= 1.0
    by_thread = {e["thread"]["name"]: e for e in deadlock["cycle"]}
    assert set(by_thread) == {"one", "two"}
    assert by_thread["one"]["waiting_at"][1] == line_of(tmp_path, "# ONE WAITS")
    assert by_thread["one"]["lock"]["line"] == line_of(tmp_path, "# LOCK B")
    assert by_thread["one"]["held_by"]["name"] == "two"
    assert by_thread["one"]["held_since"][1] == line_of(tmp_path, "# TWO TAKES B")
    assert by_thread["two"]["held_since"][1] == line_of(tmp_path, "# ONE TAKES A")
    stacks = {s["name"]: s["frames"] for s in deadlock["stacks"]}
    assert [f[1] for f in stacks["one"] if f[0].endswith("target.py")][-1] == line_of(
        tmp_path, "# ONE WAITS"
    )


def test_a_thread_waiting_for_a_lock_it_holds_is_a_deadlock(tmp_path: Path) -> None:
    body = """
    import threading, time
    lock = threading.Lock()
    def twice():
        with lock:
            with lock:  # SELF
                pass
    threading.Thread(target=twice, daemon=True, name="twice").start()
    while not EVENTS:
        time.sleep(0.05)
    """
    proc, tables, _ = run(tmp_path, body, after=0.3)
    assert proc.returncode == 0, proc.stderr
    (edge,) = tables["deadlock"]["cycle"]
    assert edge["thread"]["name"] == edge["held_by"]["name"] == "twice"
    assert edge["waiting_at"][1] == line_of(tmp_path, "# SELF")


def test_a_lock_used_as_a_signal_is_no_deadlock(tmp_path: Path) -> None:
    body = """
    import threading, time
    signal = threading.Lock()
    signal.acquire()
    def release_later(delay):
        time.sleep(delay)
        signal.release()  # released by a thread that never acquired it
    threading.Thread(target=release_later, args=(0.05,)).start()
    signal.acquire()  # waits for the other thread's release
    threading.Thread(target=release_later, args=(1.0,)).start()
    signal.acquire()  # held by this thread, waits 1 s: the other thread will release it
    tracker.save()
    print(len(EVENTS))
    """
    proc, tables, _ = run(tmp_path, body, after=0.3)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"
    assert tables["deadlock"] is None


FORKED_CHILD_SIGTERM = """
import os, signal
parent_handled = signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, b"1" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else b"0")
    os._exit(0)
os.waitpid(pid, 0)
print(parent_handled, os.read(read, 1) == b"1")
"""


def test_a_forked_child_gets_the_default_sigterm_back(tmp_path: Path) -> None:
    """The tracker saves its tables on SIGTERM in the tracked process only. A Python-level
    handler in a forked pool worker could miss the SIGTERM that Pool.terminate() sends (one
    landing just before the worker blocks on the task queue's semaphore): isort -j 2 hung in
    the pool's join under concdiag. The child gets SIGTERM's default back."""
    proc, _tables, _elapsed = run(tmp_path, FORKED_CHILD_SIGTERM)
    assert proc.stdout.split() == ["True", "True"], proc.stderr
