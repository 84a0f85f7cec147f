"""Pools and compiled code read from stacks: the task's work, the pool's cost, its waits.

The stacks are the shapes py-spy recorded from real programs (black, compiled with mypyc,
on a ProcessPoolExecutor; ``python -m compileall -j 2``; a multiprocessing.Pool), cut to the
frames that matter.
"""

from __future__ import annotations

import pytest

from concdiag.analysis.accounting.stack_roles import (
    below_program,
    is_coordination,
    is_library,
    pool_overhead,
    roles_of,
)
from concdiag.analysis.verdict.decide import decide, inputs_from
from concdiag.recording.records import StackChange
from helpers import PID, account, as_child_process, synthetic

LIB = "/usr/lib/python3.11"
SITE = "/venv/lib/python3.11/site-packages"
FUT = f"{LIB}/concurrent/futures"
MP = f"{LIB}/multiprocessing"
FORKED = (
    ("<module>", f"{SITE}/black/__main__.py", 3),
    ("reformat_many", f"{SITE}/black/concurrency.py", 137),
    ("Popen._launch", f"{MP}/popen_fork.py", 71),
    ("BaseProcess._bootstrap", f"{MP}/process.py", 314),
    ("BaseProcess.run", f"{MP}/process.py", 108),
)
#: black's worker running its compiled code: no Python frame below the task-call line.
COMPILED_TASK = (*FORKED, ("_process_worker", f"{FUT}/process.py", 261))
#: ... and that compiled code calling the standard library.
COMPILED_CALLS_STDLIB = (*COMPILED_TASK, ("parse", f"{LIB}/ast.py", 50))
#: An idle worker waiting for its next task.
IDLE_WORKER = (
    *FORKED,
    ("_process_worker", f"{FUT}/process.py", 249),
    ("Queue.get", f"{MP}/queues.py", 103),
    ("_ConnectionBase.recv_bytes", f"{MP}/connection.py", 216),
)
#: A worker sending its result back.
SENDING_RESULT = (
    *FORKED,
    ("_process_worker", f"{FUT}/process.py", 264),
    ("_sendback_result", f"{FUT}/process.py", 211),
    ("SimpleQueue.put", f"{MP}/queues.py", 377),
)
#: compileall's task is standard-library code, run through map's chunk helpers.
STDLIB_TASK = (
    ("BaseProcess.run", f"{MP}/process.py", 108),
    ("_process_worker", f"{FUT}/process.py", 261),
    ("_process_chunk", f"{FUT}/process.py", 210),
    ("_process_chunk.<locals>.<listcomp>", f"{FUT}/process.py", 210),
    ("compile_file", f"{LIB}/compileall.py", 240),
    ("compile", f"{LIB}/py_compile.py", 144),
)
#: The same on Python 3.10, where py-spy names functions without their owner.
STDLIB_TASK_310 = (
    ("run", f"{MP}/process.py", 108),
    ("_process_worker", f"{FUT}/process.py", 243),
    ("_process_chunk", f"{FUT}/process.py", 205),
    ("<listcomp>", f"{FUT}/process.py", 205),
    ("compile_file", f"{LIB}/compileall.py", 240),
)
#: multiprocessing.Pool running a task from an installed package (flake8's _mp_run).
MP_POOL_TASK = (
    ("worker", f"{MP}/pool.py", 125),
    ("mapstar", f"{MP}/pool.py", 48),
    ("_mp_run", f"{SITE}/flake8/checker.py", 80),
    ("generate_tokens", f"{LIB}/tokenize.py", 430),
)
#: A thread pool's work item calling a C function directly.
THREAD_TASK = (
    ("Thread._bootstrap_inner", f"{LIB}/threading.py", 1045),
    ("_worker", f"{FUT}/thread.py", 83),
    ("_WorkItem.run", f"{FUT}/thread.py", 58),
)
#: The same on 3.14 and later (seen on Debian's 3.15.2): the work item runs its task through
#: the worker's context, and the task is Python code.
THREAD_TASK_314 = (
    ("Thread._bootstrap_inner", "/usr/lib/python3.15/threading.py", 1082),
    ("_worker", "/usr/lib/python3.15/concurrent/futures/thread.py", 127),
    ("_WorkItem.run", "/usr/lib/python3.15/concurrent/futures/thread.py", 86),
    ("WorkerContext.run", "/usr/lib/python3.15/concurrent/futures/thread.py", 73),
    ("work", "/src/bench/workloads/big_arg_python.py", 51),
)
#: A thread-pool worker completing the future: the pool's machinery, not the task.
THREAD_SETS_RESULT = (*THREAD_TASK, ("Future.set_result", f"{FUT}/_base.py", 549))
#: The parent's event loop waiting in its selector (black's main thread).
LOOP_WAIT = (
    ("<module>", f"{SITE}/black/__main__.py", 3),
    ("reformat_many", f"{SITE}/black/concurrency.py", 137),
    ("BaseEventLoop.run_until_complete", f"{LIB}/asyncio/base_events.py", 640),
    ("BaseEventLoop._run_once", f"{LIB}/asyncio/base_events.py", 1884),
    ("EpollSelector.select", f"{LIB}/selectors.py", 468),
)


def test_the_programs_own_code_includes_installed_packages() -> None:
    assert not is_library(f"{SITE}/black/__main__.py")
    assert not is_library("/usr/lib/python3/dist-packages/flake8/main.py")
    assert not is_library("/home/user/app.py")
    assert is_library(f"{LIB}/ast.py")
    assert is_library("/usr/lib64/python3.12/lib-dynload/_json.py")
    assert is_library("<frozen importlib._bootstrap>")
    assert is_library("/x/site-packages/concdiag/collectors/_bootstrap.py")


def test_compiled_code_below_the_task_call_line_is_the_tasks_work() -> None:
    for stack in (COMPILED_TASK, COMPILED_CALLS_STDLIB, THREAD_TASK, THREAD_TASK_314):
        roles = roles_of(stack)
        assert roles.overhead is None, stack[-1]
        assert not roles.coordination
        assert roles.in_task
    below, in_task = below_program(COMPILED_CALLS_STDLIB)
    assert below == (("parse", f"{LIB}/ast.py", 50),) and in_task


def test_standard_library_tasks_are_work_too() -> None:
    for stack in (STDLIB_TASK, STDLIB_TASK_310, MP_POOL_TASK):
        assert pool_overhead(stack) is None
        assert roles_of(stack).in_task


def test_the_pools_own_frames_are_still_its_cost_and_its_waits() -> None:
    assert is_coordination(IDLE_WORKER)
    assert not roles_of(IDLE_WORKER).in_task
    assert pool_overhead(SENDING_RESULT) == "serialise"
    assert not roles_of(SENDING_RESULT).in_task
    assert pool_overhead(THREAD_SETS_RESULT) == "dispatch"


def test_an_event_loop_in_its_selector_is_flagged_not_judged() -> None:
    roles = roles_of(LOOP_WAIT)
    assert roles.loop_wait
    assert not roles.coordination  # the accounting decides, from what ran meanwhile
    assert not roles_of(LOOP_WAIT[:-1]).loop_wait


def _loop_and_worker(worker_stack: tuple[tuple[str, str, int], ...]) -> float:
    """Coordination seconds of an event-loop thread beside a pool worker process."""
    rec = synthetic(
        {PID: list("I"), PID + 1: list("H")},
        ticks=200,
        stacks={PID: LOOP_WAIT, PID + 1: worker_stack},
    )
    as_child_process(rec, PID + 1)
    return account(rec).coordination_s


def test_an_event_loop_waits_for_the_pool_while_its_tasks_run() -> None:
    assert _loop_and_worker(COMPILED_TASK) > 1.9  # black: the loop awaits the workers
    assert _loop_and_worker(IDLE_WORKER) < 0.1  # no task ran: the loop waited on I/O


def test_a_process_pool_running_compiled_tasks_recommends_processes() -> None:
    # black -W 2, in short: the parent's loop waits, two workers run compiled code
    rec = synthetic(
        {PID: list("I"), PID + 1: list("HHHHHHHHHI"), PID + 2: list("HHHHHHHHHI")},
        ticks=400,
        stacks={PID: LOOP_WAIT, PID + 1: COMPILED_TASK, PID + 2: COMPILED_TASK},
    )
    as_child_process(rec, PID + 1)
    as_child_process(rec, PID + 2)
    acc = account(rec)
    assert acc.child_python_processes == 2
    roles = {(t.tid, t.role) for p in acc.processes for t in p.threads}
    assert roles == {(PID, "coordinator"), (PID + 1, "worker"), (PID + 2, "worker")}
    assert acc.pool_overhead_s == {}
    v = decide(inputs_from(acc, 2, True, True), "multiprocessing", "2 child processes", [])
    assert (v.bound, v.cpu_kind, v.recommendation) == ("cpu", "python", "multiprocessing")


#: The main thread importing a module at start-up (the import system on its stack).
IMPORTING = (
    ("<module>", f"{SITE}/isort/__main__.py", 1),
    ("_find_and_load", "<frozen importlib._bootstrap>", 1178),
    ("_load_unlocked", "<frozen importlib._bootstrap>", 690),
    ("<module>", f"{SITE}/isort/main.py", 20),
)


def test_imports_are_flagged_and_pool_machinery_is_not_an_import() -> None:
    assert roles_of(IMPORTING).importing
    assert not roles_of(MP_POOL_TASK).importing
    assert not roles_of(STDLIB_TASK).importing


def test_a_serial_programs_imports_do_not_divide_among_workers() -> None:
    """A quarter of the run importing: S = 0.5 s of 2 s, so 2 processes gain 1.6x, not 2x."""
    rec = synthetic({PID: list("H")}, ticks=200)
    rec.stacks[(PID, PID)] = [StackChange(0.0, IMPORTING), StackChange(0.5, MP_POOL_TASK[2:])]
    acc = account(rec)
    assert acc.serial_cpu_s["gil_held"] == pytest.approx(0.5, abs=0.02)
    v = decide(inputs_from(acc, 2, True, True), "serial", "one thread did the work", [])
    two = next(p for p in v.predicted_speedup if p.workers == 2)
    # T1 = 2.0 s; T(2) = 0.5 + 1.5/2 + 2 x 15 ms fork = 1.28 s
    assert two.processes == pytest.approx(2.0 / 1.28, abs=0.02)
    assert "0.50 s of the CPU does not divide" in next(
        r.message for r in v.reasons if r.rule == "predicted_speedup"
    )


def test_a_coordinators_own_cpu_does_not_divide_among_workers() -> None:
    """The parent runs its own code, then waits on the pool: its CPU is serial, whatever N is."""
    own = (("<module>", f"{SITE}/isort/main.py", 1), ("walk", f"{SITE}/isort/files.py", 9))
    waits = (
        ("<module>", f"{SITE}/isort/main.py", 1),
        ("IMapIterator.next", f"{MP}/pool.py", 856),
        ("Condition.wait", f"{LIB}/threading.py", 327),
    )
    rec = synthetic(
        {PID: list("H" * 100 + "L" * 300), PID + 1: list("H"), PID + 2: list("H")},
        ticks=400,
        stacks={PID + 1: MP_POOL_TASK, PID + 2: MP_POOL_TASK},
    )
    rec.stacks[(PID, PID)] = [StackChange(0.0, own), StackChange(1.0, waits)]
    as_child_process(rec, PID + 1)
    as_child_process(rec, PID + 2)
    acc = account(rec)
    roles = {t.tid: t.role for p in acc.processes for t in p.threads}
    assert roles[PID] == "coordinator"
    # (the synthetic GIL word names the last child as holder, so the parent reads as native)
    assert sum(acc.serial_cpu_s.values()) == pytest.approx(1.0, abs=0.02)
    v = decide(inputs_from(acc, 2, True, True), "multiprocessing", "2 child processes", [])
    two = next(p for p in v.predicted_speedup if p.workers == 2)
    # T1 = 1 + 8 = 9 s; T(2) = 1 + 8/2 + 2 x 15 ms = 5.03 s
    assert two.processes == pytest.approx(9.0 / 5.03, abs=0.02)


def test_the_main_threads_cpu_before_the_pool_runs_is_serial() -> None:
    """big_args' shape: the main thread builds the pool's input, then the workers run: that
    first second divides among no workers (it flipped the verdict by its role: 0.41 s
    counted as serial in half the runs, as work in the others)."""
    own = (("<module>", f"{SITE}/app/main.py", 1), ("items", f"{SITE}/app/main.py", 9))
    rec = synthetic(
        {
            PID: list("H" * 100 + "I" * 300),
            PID + 1: list("-" * 100 + "H" * 300),
            PID + 2: list("-" * 100 + "H" * 300),
        },
        ticks=400,
        stacks={PID: own, PID + 1: MP_POOL_TASK, PID + 2: MP_POOL_TASK},
    )
    as_child_process(rec, PID + 1)
    as_child_process(rec, PID + 2)
    acc = account(rec)
    roles = {t.tid: t.role for p in acc.processes for t in p.threads}
    assert roles[PID] == "worker"
    assert sum(acc.serial_cpu_s.values()) == pytest.approx(1.0, abs=0.06)
