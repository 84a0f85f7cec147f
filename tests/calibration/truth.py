"""How a calibration target measures its own truth, inside each thread.

A `ThreadTruth` is entered by the thread it measures: it reads the thread's own CPU clock
(``time.thread_time``), its time runnable but waiting for a CPU (its own scheduler clock,
``/proc/thread-self/schedstat``) and the wall clock at the start and end, and times the
blocks the thread marks as waits (``with truth.waiting("io"): sock.recv(...)``).
`write_truth` writes what each thread's states should be (a share, or a [low, high] range),
and the clocks they came from, for the test to compare.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class ThreadTruth:
    def __init__(self) -> None:
        self.began = self.ended = 0.0
        self.cpu_began = self.cpu_ended = 0.0
        self.queued_began = self.queued_ended = 0.0
        self.waits: dict[str, float] = {}
        self.tid = 0

    def __enter__(self) -> ThreadTruth:
        self.tid = threading.get_native_id()  # how profilers that name no thread call it
        self.began = time.perf_counter()
        self.cpu_began = time.thread_time()
        self.queued_began = _queued_s()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cpu_ended = time.thread_time()
        self.queued_ended = _queued_s()
        self.ended = time.perf_counter()

    @contextmanager
    def waiting(self, state: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.waits[state] = self.waits.get(state, 0.0) + time.perf_counter() - t

    @property
    def alive_s(self) -> float:
        return self.ended - self.began

    def cpu_share(self) -> float:
        return (self.cpu_ended - self.cpu_began) / self.alive_s

    def queued_share(self) -> float:
        """Runnable but waiting for a CPU: a machine busier than its cores."""
        return (self.queued_ended - self.queued_began) / self.alive_s

    def held_range(self) -> list[float]:
        """A pure-Python thread holds the GIL while on a CPU, and may hold it while queued for
        one (pre-empted holding it) or not (woken to take it): its GIL-held share's range."""
        return [self.cpu_share(), self.cpu_share() + self.queued_share()]

    def wait_share(self, state: str) -> float:
        return self.waits.get(state, 0.0) / self.alive_s


def _queued_s() -> float:
    """This thread's run-queue delay so far, from its own scheduler clock (0 where absent)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def write_truth(
    path: str, expected: dict[str, dict[str, float | list[float]]], truths: dict[str, ThreadTruth]
) -> None:
    """``expected``: per thread name, the share each state should have of its observed time,
    or the [low, high] range it should lie in."""
    clocks = {
        name: {
            "alive_s": t.alive_s,
            "tid": t.tid,
            "cpu_share": t.cpu_share(),
            "queued_share": t.queued_share(),
            "waits": {k: t.wait_share(k) for k in t.waits},
        }
        for name, t in truths.items()
    }
    with open(path, "w") as out:
        json.dump({"expected": expected, "clocks": clocks}, out)
