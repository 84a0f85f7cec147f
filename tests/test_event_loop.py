"""The event loop's ticks, fed by hand: idle in the kernel's event wait, busy otherwise, and
the busy stretches with the line and the state that filled them."""

from __future__ import annotations

from concdiag.analysis.accounting.event_loop import LoopWatch
from concdiag.analysis.event_loop import event_loop
from concdiag.recording.records import ThreadObservation

EPOLL = 232
LOOP = (
    ("<module>", "/app/main.py", 1),
    ("run_forever", "/usr/lib/python3.11/asyncio/base_events.py", 607),
)
CRUNCH = (*LOOP, ("crunch", "/app/main.py", 20))
BLOCK = (*LOOP, ("fetch", "/app/main.py", 30))  # time.sleep is C: no frame of its own
KEY = (1, 1)


def feed(watch: LoopWatch, sequence: list[tuple[str, tuple]]) -> None:  # type: ignore[type-arg]
    for i, (what, frames) in enumerate(sequence):
        syscall = {"idle": EPOLL, "cpu": None, "sleep": 230}[what]
        obs = ThreadObservation(1, "S" if syscall else "R", syscall, False, 0)
        state = {"idle": "io", "cpu": "gil_held", "sleep": "io"}[what]
        watch.see(KEY, i * 0.01, obs, state, frames)


def test_busy_stretches_are_found_with_their_line_and_kind() -> None:
    watch = LoopWatch(frozenset({EPOLL}), keep_ticks=10)
    sequence = (
        [("idle", LOOP)] * 5
        + [("cpu", CRUNCH)] * 30
        + [("idle", LOOP)] * 5
        + [("sleep", BLOCK)] * 12
        + [("idle", LOOP)] * 5
        + [("cpu", CRUNCH)] * 3  # a quick callback: no stall
        + [("idle", LOOP)] * 5
    )
    feed(watch, sequence)
    loop = event_loop(watch.finish(), [], 0.01)
    assert loop is not None
    assert [(s.function, s.line, s.kind, s.duration_s) for s in loop.stalls] == [
        ("crunch", 20, "cpu", 0.3),
        ("fetch", 30, "blocking", 0.12),
    ]
    assert loop.longest_busy_s == 0.3 and loop.stalls_total_s == 0.42
    assert loop.idle_share == round(20 / 65, 4)


def test_a_thread_that_never_runs_a_loop_is_not_one() -> None:
    watch = LoopWatch(frozenset({EPOLL}), keep_ticks=10)
    feed(watch, [("cpu", (("work", "/app/main.py", 3),))] * 50)
    assert event_loop(watch.finish(), [], 0.01) is None


def test_a_stretch_the_loop_never_returns_from_to_wait_is_its_end_not_a_stall() -> None:
    watch = LoopWatch(frozenset({EPOLL}), keep_ticks=10)
    feed(watch, [("idle", LOOP)] * 5 + [("cpu", CRUNCH)] * 20)  # the run ends while busy
    stopped = LoopWatch(frozenset({EPOLL}), keep_ticks=10)
    feed(
        stopped,
        [("idle", LOOP)] * 5
        + [("cpu", CRUNCH)] * 20
        + [("cpu", (("main", "/app/main.py", 40),))] * 3,
    )
    for w in (watch, stopped):
        loop = event_loop(w.finish(), [], 0.01)
        assert loop is not None and loop.stalls == [] and loop.longest_busy_s == 0


def test_a_loop_whose_blocking_calls_cannot_be_read_is_not_judged() -> None:
    watch = LoopWatch(frozenset({EPOLL}), keep_ticks=10)
    for i in range(50):
        obs = ThreadObservation(1, "S", None, False, 0)  # blocked, call unknown
        watch.see(KEY, i * 0.01, obs, "io", LOOP)
    assert event_loop(watch.finish(), [], 0.01) is None
