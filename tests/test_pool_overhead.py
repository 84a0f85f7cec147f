"""Pool machinery, coordination waits and file locks, judged from stacks and system calls."""

from __future__ import annotations

from concdiag.analysis.accounting.stack_roles import is_coordination, pool_overhead
from concdiag.analysis.accounting.tick_states import classify
from concdiag.analysis.verdict.decide import decide, inputs_from
from concdiag.recording.records import ThreadObservation, Tick
from concdiag.recording.syscalls import AARCH64, X86_64
from helpers import PID, account, synthetic

LIB = "/usr/lib/python3.11"
APP = "/home/user/app.py"
MAIN = (("<module>", APP, 40), ("main", APP, 30))
SUBMIT = (*MAIN, ("map", f"{LIB}/concurrent/futures/_base.py", 600))
SUBMIT = (*SUBMIT, ("submit", f"{LIB}/concurrent/futures/process.py", 780))
FEEDER = (
    ("_bootstrap", f"{LIB}/threading.py", 995),
    ("_feed", f"{LIB}/multiprocessing/queues.py", 240),
    ("dumps", f"{LIB}/multiprocessing/reduction.py", 51),
)
MANAGER_WAIT = (
    ("_bootstrap", f"{LIB}/threading.py", 995),
    ("run", f"{LIB}/concurrent/futures/process.py", 340),
    ("wait", f"{LIB}/multiprocessing/connection.py", 947),
    ("select", f"{LIB}/selectors.py", 415),
)
POOL_WORKER_RECV = (
    ("_worker", f"{LIB}/concurrent/futures/thread.py", 83),
    ("run", f"{LIB}/concurrent/futures/thread.py", 58),
    ("work", APP, 12),
    ("recv_into", f"{LIB}/socket.py", 706),
)
WORK = (*MAIN, ("work", APP, 12))


def test_coordination_is_judged_below_the_programs_own_frames() -> None:
    assert is_coordination(MANAGER_WAIT)  # the pool's manager thread waiting for results
    assert is_coordination((*MAIN, ("join", f"{LIB}/threading.py", 1100)))
    # a pool worker blocked in the program's own socket read is doing I/O, not waiting
    assert not is_coordination(POOL_WORKER_RECV)
    assert not is_coordination(WORK)


def test_pool_overhead_kinds() -> None:
    assert pool_overhead(FEEDER) == "serialise"
    assert pool_overhead(SUBMIT) == "dispatch"
    assert pool_overhead(WORK) is None
    assert pool_overhead(POOL_WORKER_RECV) is None


def test_file_lock_wait_is_sync() -> None:
    tick = Tick(0.0, PID, True, None, 0, 0, ())
    flock = ThreadObservation(PID, "S", 73, False, 0)
    read = ThreadObservation(PID, "S", 0, False, 0)
    assert classify(flock, tick, True, X86_64) == "sync"
    assert classify(read, tick, True, X86_64) == "io"
    # The same numbers mean other calls on aarch64 (73 is ppoll there; 32 is flock).
    assert classify(flock, tick, True, AARCH64) == "io"
    assert classify(ThreadObservation(PID, "S", 32, False, 0), tick, True, AARCH64) == "sync"


def test_process_pool_whose_cost_is_moving_arguments_recommends_serial() -> None:
    # main thread submits, the feeder thread pickles most of the time; little real work
    rec = synthetic(
        {PID: list("HHWWWWWWWW"), PID + 1: list("WWHHHHHHHW"), PID + 2: list("WWWWWWWWWH")},
        ticks=300,
        stacks={PID: SUBMIT, PID + 1: FEEDER, PID + 2: WORK},
    )
    acc = account(rec)
    assert acc.pool_overhead_s["serialise"]["gil_held"] > 2.0
    v = decide(inputs_from(acc, 2, True, True), "multiprocessing", "2 child processes", [])
    rules = {r.rule: r.figures for r in v.reasons}
    assert "arguments_too_large" in rules or "tasks_too_small" in rules
    assert v.recommendation == "serial"


def test_same_threads_without_a_process_pool_are_not_charged() -> None:
    rec = synthetic(
        {PID: list("HHWWWWWWWW"), PID + 1: list("WWHHHHHHHW"), PID + 2: list("WWWWWWWWWH")},
        ticks=300,
        stacks={PID: SUBMIT, PID + 1: FEEDER, PID + 2: WORK},
    )
    v = decide(inputs_from(account(rec), 2, True, True), "serial", "one thread", [])
    assert v.recommendation == "multiprocessing"
