"""Work that lives in other processes of the tree, and time in which nothing works.

On synthetic process trees: an external command's CPU is work the program handed out; a
parent asleep while its children compute polls for them; a worker process running the lines
the root ran at its own start-up repeats that start-up; seconds in which every thread waits
on another are no one's work, and a pool that saves less than them is not worth having.
"""

from __future__ import annotations

import dataclasses

import pytest

from concdiag.analysis.accounting.helpers import machinery, machinery_of
from concdiag.recording.records import ProcessCounters, StackChange
from concdiag.render.html import HtmlRenderer
from concdiag.render.markdown import MarkdownRenderer
from helpers import PID, Synthetic, account, as_child_process, profile_of, synthetic
from test_verdict_rules import BASE

CHILD = PID + 1


def _with_parent(rec: Synthetic, pid: int, ppid: int = PID, python: bool = True) -> None:
    """Say in the recording that ``pid`` is a child of ``ppid`` (and whether it runs Python)."""
    rec.counters.append(ProcessCounters(0.0, pid, ppid, 0.0, 0.0, 0, 0, 0, 1))
    if not python:
        info = rec.threads[(pid, pid)]
        rec.threads[(pid, pid)] = dataclasses.replace(info, python=False, name=f"thread-{pid}")


def _ipc_on(rec: Synthetic, pid: int, tid: int) -> None:
    """Mark every blocked observation of ``tid`` in ``pid`` as a wait on the tree's pipes."""
    rec.ticks = [
        dataclasses.replace(
            t,
            threads=tuple(
                dataclasses.replace(o, ipc=True)
                if o.tid == tid and o.proc_state != "R" and t.pid == pid
                else o
                for o in t.threads
            ),
        )
        if t.pid == pid
        else t
        for t in rec.ticks
    ]


def test_an_external_commands_cpu_is_work_that_threads_can_wait_on() -> None:
    # the main thread waits on the pipe of a command (gzip, a compiler) that computes
    rec = synthetic({PID: ["I"], CHILD: ["N"]}, ticks=300)
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD, python=False)
    _ipc_on(rec, PID, PID)
    profile = profile_of(rec)
    assert profile.summary.worker_seconds.native == pytest.approx(3.0, abs=0.05)
    assert profile.summary.worker_seconds.io == pytest.approx(0.0, abs=0.05)
    v = profile.verdict
    assert v.bound == "cpu"
    assert v.recommendation == "threading"
    external = next(r for r in v.reasons if r.rule == "external_commands")
    assert external.figures["external_processes"] == 1


def test_a_parent_asleep_while_its_children_compute_polls_for_them() -> None:
    rec = synthetic({PID: ["S"], CHILD: ["H"]}, ticks=300)
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD)
    main = next(t for t in account(rec).processes[0].threads if t.tid == PID)
    assert main.role == "coordinator"
    # a sleep with no child at work is the thread's own (a timer, pacing)
    alone = synthetic({PID: ["S"], CHILD: ["I"]}, ticks=300)
    as_child_process(alone, CHILD)
    _with_parent(alone, CHILD)
    main = next(t for t in account(alone).processes[0].threads if t.tid == PID)
    assert main.role != "coordinator"


def test_a_worker_repeating_the_roots_start_up_is_starting_not_working() -> None:
    setup = (("<module>", "/app/run.py", 1), ("load_plugins", "/app/plugins.py", 40))
    work = (("<module>", "/app/worker.py", 1), ("check", "/app/checks.py", 12))
    # the root starts up for 1 s, then a worker repeats that start-up for 1 s and works 1 s
    rec = synthetic({PID: ["H"] * 100 + ["I"] * 200, CHILD: ["-"] * 100 + ["H"] * 200}, 300)
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD)
    rec.stacks[(PID, PID)] = [StackChange(0.0, setup)]
    rec.stacks[(CHILD, CHILD)] = [StackChange(1.0, setup), StackChange(2.0, work)]
    _ipc_on(rec, PID, PID)
    acc = account(rec)
    assert acc.worker_start_s[CHILD] == pytest.approx(1.0, abs=0.05)
    assert acc.worker_work_s[CHILD] == pytest.approx(1.0, abs=0.05)


def test_a_worker_sharing_only_the_import_systems_lines_with_the_start_up_is_working() -> None:
    # the root's start-up imports run code through importlib's helper; a worker compiling
    # files (py_compile) runs through the same helper line: the lines above it differ
    helper = ("_call_with_frames_removed", "<frozen importlib._bootstrap>", 241)
    setup = (("<module>", "/app/run.py", 1), helper)
    work = (("compile", "/usr/lib/python3.11/py_compile.py", 144), helper)
    rec = synthetic({PID: ["H"] * 100 + ["I"] * 200, CHILD: ["-"] * 100 + ["H"] * 200}, 300)
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD)
    rec.stacks[(PID, PID)] = [StackChange(0.0, setup)]
    rec.stacks[(CHILD, CHILD)] = [StackChange(1.0, work)]
    _ipc_on(rec, PID, PID)
    acc = account(rec)
    assert acc.worker_start_s[CHILD] == pytest.approx(0.0, abs=0.02)
    assert acc.worker_work_s[CHILD] == pytest.approx(2.0, abs=0.05)


def test_seconds_in_which_every_thread_waits_on_another_are_counted() -> None:
    # two threads fetch (I/O) for 1 s, then both wait on each other (a queue, a join with a
    # timeout) for 2 s: no CPU and no I/O anywhere
    pattern = {PID: ["I"] * 100 + ["L"] * 200, PID + 2: ["I"] * 100 + ["L"] * 200}
    acc = account(synthetic(pattern, ticks=300))
    assert acc.mutual_wait_s == pytest.approx(2.0, abs=0.06)
    busy = account(synthetic({PID: ["I"], PID + 2: ["L"]}, ticks=300))
    assert busy.mutual_wait_s == 0.0


#: A thread waiting for work on a queue (a pool's idle worker).
QUEUE_GET = (
    ("run", "/app/pool.py", 20),
    ("Queue.get", "/usr/lib/python3.11/queue.py", 171),
    ("Condition.wait", "/usr/lib/python3.11/threading.py", 324),
)


def test_a_pool_that_saves_less_than_its_waits_is_not_recommended() -> None:
    # 0.5 s of I/O in each of two threads, then 2.5 s in which both wait on each other (a
    # queue's timeout): threads would save about 0.25 s, less than those 2.5 s
    pattern = {PID: ["I"] * 50 + ["L"] * 250, PID + 2: ["I"] * 50 + ["L"] * 250}
    fetch = (("run", "/app/pool.py", 20), ("fetch", "/app/net.py", 7))
    rec = synthetic(pattern, ticks=300)
    for tid in pattern:
        rec.stacks[(PID, tid)] = [StackChange(0.0, fetch), StackChange(0.5, QUEUE_GET)]
    v = profile_of(rec).verdict
    assert v.recommendation == "serial"
    reason = next(r for r in v.reasons if r.rule == "waits_exceed_gain")
    assert reason.figures["mutual_wait_s"] == pytest.approx(2.5, abs=0.06)


def test_a_tree_of_one_process_has_no_descendants_at_work() -> None:
    main = account(synthetic({PID: ["S"]}, ticks=100)).processes[0].threads[0]
    assert main.role != "coordinator"


def test_a_child_that_serves_the_tree_and_mostly_waits_is_a_service_not_a_worker() -> None:
    # the program parses on two threads (Python) and fetches from a server it started: the
    # server's request handling is mostly waiting (its latency), a little CPU
    pattern = {PID: ["H", "H", "H", "I"], PID + 2: ["H", "H", "I", "H"], CHILD: list("IIIIIIIIIH")}
    rec = synthetic(pattern, ticks=400)
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD)
    rec.serving_pids = (CHILD,)
    profile = profile_of(rec)
    (service,) = [p for p in profile.processes if p.pid == CHILD]
    assert service.helper == "service"
    # its waits are not the program's I/O, and it does not make the model processes
    assert profile.summary.worker_seconds.io == pytest.approx(2 * 0.25 * 4.0, abs=0.1)
    assert profile.verdict.current_model.kind != "multiprocessing"
    assert profile.tree is not None and not profile.tree.workers
    assert "not counted as workers: service" in profile.tree.note
    # the reports say which process it was
    assert "(service, not a worker)" in HtmlRenderer().render(profile)
    assert f"| {CHILD} | MainThread | service |" in MarkdownRenderer().render(profile)
    # the same child computing most of its life is a worker that also listens
    busy = synthetic({PID: ["I"], CHILD: ["H", "H", "H", "I"]}, ticks=400)
    as_child_process(busy, CHILD)
    _with_parent(busy, CHILD)
    busy.serving_pids = (CHILD,)
    assert not any(p.helper for p in profile_of(busy).processes)
    # and a child never seen serving is a worker whatever it does
    plain = synthetic(pattern, ticks=400)
    as_child_process(plain, CHILD)
    _with_parent(plain, CHILD)
    assert profile_of(plain).verdict.current_model.kind == "multiprocessing"


FORKSERVER = ["python3", "-B", "-c", "from multiprocessing.forkserver import main; main(11, 12)"]
TRACKER = ["python3", "-B", "-c", "from multiprocessing.resource_tracker import main;main(8)"]


def test_multiprocessing_s_machinery_is_named_and_its_forked_workers_are_workers() -> None:
    commands = {1: ["python3", "app.py"], 2: TRACKER, 3: FORKSERVER, 4: FORKSERVER}
    # 4 was forked by the forkserver (3): it keeps its command line, and is a worker
    assert machinery(commands, {2: 1, 3: 1, 4: 3}) == {2: "resource tracker", 3: "forkserver"}
    # the forkserver's own command line unread (empty): its forked workers' names it
    unread = {1: ["python3", "app.py"], 2: TRACKER, 3: [], 4: FORKSERVER, 5: FORKSERVER}
    assert machinery(unread, {2: 1, 3: 1, 4: 3, 5: 3}) == {2: "resource tracker", 3: "forkserver"}
    assert machinery_of(["python3", "-c", "from os import path; main()"]) is None
    # 3.14 and 3.15 import sys first
    code = "import sys; from multiprocessing.forkserver import main; main(12, 13)"
    assert machinery_of(["python3.14", "-B", "-c", code, "app.py"]) == "forkserver"
    assert machinery_of(["python3", "script.py", "-c", "x"]) is None
    # in a profile: the forkserver computes nothing and is not a worker; its child is
    rec = synthetic({PID: ["I"], CHILD: ["S"], CHILD + 1: ["H"]}, ticks=300)
    as_child_process(rec, CHILD)
    as_child_process(rec, CHILD + 1)
    _with_parent(rec, CHILD)
    _with_parent(rec, CHILD + 1, ppid=CHILD)
    rec.commands = {PID: ["python3", "app.py"], CHILD: FORKSERVER, CHILD + 1: FORKSERVER}
    profile = profile_of(rec)
    helpers = {p.pid: p.helper for p in profile.processes}
    assert helpers == {PID: "", CHILD: "forkserver", CHILD + 1: ""}
    assert profile.tree is not None and [w.pid for w in profile.tree.workers] == [CHILD + 1]
    assert "multiprocessing's machinery" in profile.tree.note


def test_one_worker_s_start_up_is_the_mean_over_those_that_started_an_interpreter() -> None:
    # stestr's shape: two workers importing 0.1 s each, beside a forked child that only
    # execs a shell and a listing run; the forked child starts no interpreter of its own
    inputs = dataclasses.replace(BASE, worker_processes=3, started_processes=2, worker_start_s=0.2)
    assert inputs.start_per_worker_s == pytest.approx(0.1)
    older = dataclasses.replace(inputs, started_processes=0)  # a profile that did not count
    assert older.start_per_worker_s == pytest.approx(0.2 / 3)


#: A thread waiting for a message a channel thread hands it, on a bare lock (its stack names
#: no pool, no join, no queue).
AWAITS_MESSAGE = (
    ("main", "/app/controller.py", 10),
    ("next_event", "/app/channel.py", 55),
)


def _controller(channel: str) -> Synthetic:
    """A controller's main thread waits on a condition while its other thread ``channel``
    does what the pattern says, and a worker process computes for 3 s."""
    pattern = {PID: ["L"], PID + 2: [channel], CHILD: ["H"]}
    rec = synthetic(pattern, ticks=300, stacks={PID: AWAITS_MESSAGE})
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD)
    _ipc_on(rec, PID, PID + 2)
    return rec


def test_a_wait_for_what_a_channel_thread_relays_from_a_worker_is_coordination() -> None:
    # the channel thread blocks on the pipe to the worker process: nothing in the controller
    # could release the condition but what that pipe brings
    main = next(t for t in account(_controller("I")).processes[0].threads if t.tid == PID)
    assert main.role == "coordinator"
    assert profile_of(_controller("I")).summary.worker_seconds.sync == pytest.approx(0, abs=0.05)


def test_a_wait_on_a_lock_a_running_thread_holds_is_not_relayed() -> None:
    acc = account(_controller("H"))
    main = next(t for t in acc.processes[0].threads if t.tid == PID)
    assert main.role == "worker"
    assert acc.summary.worker_seconds.sync == pytest.approx(3.0, abs=0.05)


IMPORTING_STACK = (
    ("<module>", "/app/worker.py", 1),
    ("_find_and_load", "<frozen importlib._bootstrap>", 1178),
    ("<module>", "/app/heavy.py", 3),
)
WORK_STACK = (("<module>", "/app/worker.py", 1), ("check", "/app/checks.py", 12))


def _worker(first: tuple[tuple[str, str, int], ...], command: list[str]) -> Synthetic:
    """A worker process, started with ``command``, computes for 3 s; its stack can be read
    only after 1 s, and shows ``first`` until 1.5 s, then its work."""
    rec = synthetic({PID: ["I"], CHILD: ["H"]}, ticks=300)
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD)
    _ipc_on(rec, PID, PID)
    rec.commands = {PID: ["python", "app.py"], CHILD: command}
    rec.stacks[(CHILD, CHILD)] = [
        StackChange(0.0, ()),
        StackChange(1.0, first),
        StackChange(1.5, WORK_STACK),
    ]
    return rec


FRESH = ["python", "-m", "app.worker"]
FORKED = ["python", "app.py"]


def test_a_fresh_interpreters_samples_before_its_first_stack_are_its_start_up() -> None:
    acc = account(_worker(IMPORTING_STACK, FRESH))
    assert acc.worker_start_s[CHILD] == pytest.approx(1.5, abs=0.05)
    assert acc.worker_work_s[CHILD] == pytest.approx(1.5, abs=0.05)


@pytest.mark.parametrize(
    ("first", "command"),
    [
        pytest.param(WORK_STACK, FRESH, id="first stack the work"),
        pytest.param(IMPORTING_STACK, FORKED, id="forked, importing lazily"),
    ],
)
def test_samples_before_the_first_stack_stay_work_unless_an_interpreter_started(
    first: tuple[tuple[str, str, int], ...], command: list[str]
) -> None:
    # the sampler was late, the child was not starting: a forked child keeps its parent's
    # command line and starts no interpreter
    acc = account(_worker(first, command))
    starting = 0.5 if first == IMPORTING_STACK else 0.0
    assert acc.worker_start_s[CHILD] == pytest.approx(starting, abs=0.02)
    assert acc.worker_work_s[CHILD] == pytest.approx(3.0 - starting, abs=0.05)


def test_the_main_threads_own_io_while_no_worker_works_is_serial() -> None:
    # the parent reads its input for 1 s, then a worker process computes for 2 s while the
    # parent waits on its pipe
    rec = synthetic({PID: ["I"], CHILD: ["-"] * 100 + ["H"] * 200}, ticks=300)
    as_child_process(rec, CHILD)
    _with_parent(rec, CHILD)
    rec.ticks = [
        dataclasses.replace(
            t,
            threads=tuple(dataclasses.replace(o, ipc=True) for o in t.threads),
        )
        if t.pid == PID and t.t_s >= 1.0
        else t
        for t in rec.ticks
    ]
    profile = profile_of(rec)
    speedup = next(r for r in profile.verdict.reasons if r.rule == "predicted_speedup")
    assert speedup.figures["serial_io_s"] == pytest.approx(1.0, abs=0.05)
    assert "1.00 s of the main thread's own I/O waits" in speedup.message
    # T1 = 1 + 2 = 3 s; the read divides among no workers: T(2) = 1 + 2/2 + 2 x 15 ms fork
    two = next(p for p in profile.verdict.predicted_speedup if p.workers == 2)
    assert two.processes == pytest.approx(3.0 / 2.03, abs=0.02)
