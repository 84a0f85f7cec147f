"""Readings of the program the figures alone cannot make: where a sleep sits in the source,
and what a lock-bound program's lock is held over."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from concdiag.analysis.source import parsed_source
from concdiag.analysis.verdict import rules
from concdiag.analysis.verdict.decide import decide
from concdiag.analysis.verdict.sleep_sites import MIN_SLEEPS, in_calls_s, line_in_loop
from concdiag.analysis.verdict.speedup import Work
from concdiag.model.locks import CodeLine, CriticalSection, LockProfile, LockReport
from test_verdict_rules import BASE

PROGRAM = textwrap.dedent(
    """\
    import time


    def call_api(item):
        time.sleep(0.08)
        return item


    def poll(job):
        while not job.done():
            time.sleep(0.1)


    def pace(items):
        for item in items:
            call_api(item)
            time.sleep(1.0)


    def outer(items):
        for item in items:
            def inner():
                time.sleep(0.05)
            inner()


    time.sleep(30)
    """
)
LATENCY, POLL, PACE, INNER, MODULE = 5, 11, 17, 23, 27


def _program(tmp_path: Path) -> str:
    path = tmp_path / "program.py"
    path.write_text(PROGRAM)
    return str(path)


def test_a_sleep_in_a_loop_of_its_own_function_paces_it(tmp_path: Path) -> None:
    source = parsed_source(_program(tmp_path))
    assert source is not None
    assert not line_in_loop(source, LATENCY)
    assert line_in_loop(source, POLL)
    assert line_in_loop(source, PACE)
    # a loop around a nested function's definition is not the nested function's loop
    assert not line_in_loop(source, INNER)


def test_only_repeated_sleeps_in_functions_count_as_each_items_wait(tmp_path: Path) -> None:
    path = _program(tmp_path)
    latency = ("call_api", path, LATENCY)
    pace = ("pace", path, PACE)
    once = ("<module>", path, MODULE)
    sites = {latency: 2.0, pace: 1.0, once: 30.0}
    wakes = {latency: 25, pace: 25, once: 30}
    assert in_calls_s(sites, wakes) == (2.0, latency)
    # a line slept at in fewer separate sleeps is one long wait, not one per item
    assert in_calls_s(sites, {latency: MIN_SLEEPS - 1}) == (0.0, None)
    # source that cannot be read is taken as pacing
    assert in_calls_s(
        {("call_api", "/nowhere.py", 5): 2.0}, {("call_api", "/nowhere.py", 5): 9}
    ) == (
        0.0,
        None,
    )


def _lock(states: dict[str, float], advice_kind: str = "shorten_or_split") -> LockProfile:
    at = CodeLine("/app/db.py", 30, "query")
    section = CriticalSection(at, 34, 20, 3.0, 20, 3.0, 0.2, states)
    return LockProfile(
        id=1,
        kind="Lock",
        name="_lock",
        inside=None,
        created_at=CodeLine("/app/db.py", 10, "<module>"),
        code="_lock = threading.Lock()",
        instances=1,
        acquisitions=24,
        contended=20,
        wait_s=6.0,
        wait_max_s=0.5,
        wake_s=0.1,
        waiters_sync_s=6.0,
        hold_s=3.0,
        hold_max_s=0.2,
        timed_holds=24,
        notify_waits=0,
        notify_wait_s=0.0,
        waiting_at_end=0,
        waiting_threads=4,
        waiters=[],
        wait_lines=[],
        critical_sections=[section],
        advice_kind=advice_kind,
        advice="",
    )


#: Four threads, 3 s of Python CPU taken one at a time under a lock, 6 s waiting for it.
LOCKED = dataclasses.replace(BASE, python_cpu_s=3.0, lock_s=6.0, wall_s=3.2)
WORK = Work(python_cpu_s=3.0, native_cpu_s=0.0, io_s=0.0, lock_s=6.0, cores=2)


def test_a_lock_held_over_python_code_is_a_reason_for_processes_each_with_its_own() -> None:
    held = _lock({"gil_held": 2.8, "io": 0.1})
    choice = rules.own_resource_per_worker(LOCKED, WORK, held)
    assert choice is not None
    recommendation, reason = choice
    assert (recommendation, reason.rule) == ("multiprocessing", "own_resource_per_process")
    assert reason.figures["processes"] > 1.5


#: The same lock over native code (a shared compressor): the GIL is released inside.
NATIVE_LOCKED = dataclasses.replace(BASE, native_cpu_s=3.0, lock_s=6.0, wall_s=3.2)
NATIVE_WORK = Work(python_cpu_s=0.0, native_cpu_s=3.0, io_s=0.0, lock_s=6.0, cores=2)


def test_a_lock_held_over_native_code_asks_for_workers_each_with_its_own() -> None:
    # the shape of sample_targets/lock_convoy.py (its header has the measured figures):
    # processes have their own copy by construction, and threads do not win by the margin
    for advice in ("own_resource", "take_less_often"):
        lock = _lock({"native": 2.8}, advice_kind=advice)
        choice = rules.own_resource_per_worker(NATIVE_LOCKED, NATIVE_WORK, lock)
        assert choice is not None
        recommendation, reason = choice
        assert (recommendation, reason.rule) == ("multiprocessing", "own_resource_per_process")
        assert "threads each with a copy of their own" in reason.message
    # where starting processes costs more than they gain, threads each with their own
    costly = dataclasses.replace(NATIVE_WORK, measured_start_s=1.0)
    choice = rules.own_resource_per_worker(NATIVE_LOCKED, costly, _lock({"native": 2.8}))
    assert choice is not None
    assert (choice[0], choice[1].rule) == ("threading", "own_resource_per_thread")
    assert "releases the GIL" in choice[1].message


def test_a_lock_held_over_io_keeps_its_own_advice() -> None:
    assert rules.own_resource_per_worker(LOCKED, WORK, _lock({"io": 2.8})) is None
    blocking = _lock({"gil_held": 2.8}, advice_kind="move_blocking_call")
    assert rules.own_resource_per_worker(LOCKED, WORK, blocking) is None
    assert rules.own_resource_per_worker(LOCKED, WORK, None) is None


def test_one_lock_held_over_a_serial_runs_work_would_serialise_threads_not_processes() -> None:
    """The serial form of a shared compressor behind one lock: the lock is never contended,
    but its holds cover the work; threads sharing it would take turns, processes each have
    their own (measured on such a workload: 2 threads 1.2x slower than serial, 2 processes
    1.8x faster)."""
    held = dataclasses.replace(
        _lock({"native": 1.2, "gil_held": 0.8}), contended=0, wait_s=0.0, hold_s=2.0
    )
    report = LockReport(True, 64, 1, 0.0, 0.0, [held], None)
    serial = dataclasses.replace(BASE, python_cpu_s=0.8, native_cpu_s=1.2, wall_s=2.1)
    v = decide(serial, "serial", "one thread did the work", [], report)
    two = next(p for p in v.predicted_speedup if p.workers == 2)
    assert two.threads == pytest.approx(1.0, abs=0.02)
    assert two.processes > 1.5
    assert v.recommendation == "multiprocessing"
    assert "lock_would_serialise" in {r.rule for r in v.reasons}
    # a lock per object (instances) is not one every thread would share
    per_item = dataclasses.replace(report, locks=[dataclasses.replace(held, instances=24)])
    v = decide(serial, "serial", "one thread did the work", [], per_item)
    assert v.recommendation == "threading"
    # where threads run now, their waits on it say as much: the hold is not added again
    assert rules.useful_work(serial, "threading").shared_lock_hold_s == 0.0
