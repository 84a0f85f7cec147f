"""The event loop's ticks: for each thread running an asyncio loop, whether it waited for its
next event or was busy, and the busy stretches with the lines and states that filled them.

Facts every program gives: the thread's blocking system call (the kernel's event wait is the
loop idle), its state at the tick (GIL held or not), and its Python stack (a frame in the
asyncio package says a loop runs on it; the program's innermost line says what ran).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from concdiag.analysis.accounting.stack_roles import PerStack, program_line
from concdiag.recording.records import ThreadObservation

Line = tuple[str, str, int] | None

#: A busy stretch this long or longer is a slow callback: asyncio's own limit
#: (``loop.slow_callback_duration``, 0.1 s), which its debug mode warns at.
SLOW_CALLBACK_S = 0.1


@dataclass
class Stretch:
    """Consecutive busy ticks of a loop thread."""

    start_s: float
    ticks: int = 0
    states: Counter[str] = field(default_factory=Counter)
    lines: Counter[Line] = field(default_factory=Counter)


@dataclass
class LoopTally:
    """One loop thread's ticks."""

    ticks: int = 0
    idle: int = 0
    #: Blocked ticks whose system call could not be read: idle or busy cannot be told.
    unreadable: int = 0
    busy_held: int = 0
    busy_other: int = 0
    stretches: list[Stretch] = field(default_factory=list)  # finished, at least `keep_ticks`
    longest: int = 0  # ticks of the longest stretch, kept or not
    current: Stretch | None = None


def runs_a_loop(frames: tuple[Any, ...]) -> bool:
    """Whether a stack runs inside an asyncio event loop (a frame of the asyncio package)."""
    return any("/asyncio/" in f[1] for f in frames)


class LoopWatch:
    """Feed each thread's ticks in time order; stretches of at least ``keep_ticks`` are kept."""

    def __init__(self, event_wait: frozenset[int], keep_ticks: int) -> None:
        self.event_wait = event_wait
        self.keep_ticks = keep_ticks
        self.loops: dict[tuple[int, int], LoopTally] = {}
        self._in_loop = PerStack(runs_a_loop)
        self._line = PerStack(lambda frames: program_line(frames, also_skip="/asyncio/"))

    def see(
        self,
        key: tuple[int, int],
        t_s: float,
        obs: ThreadObservation,
        state: str,
        frames: tuple[Any, ...],
    ) -> None:
        tally = self.loops.get(key)
        loop_now = bool(frames) and self._in_loop(key, frames)
        if tally is None:
            if not loop_now:
                return
            tally = self.loops[key] = LoopTally()
        elif frames and not loop_now:  # the loop has stopped (or not started again)
            self._drop(tally)
            return
        tally.ticks += 1
        if obs.syscall is None and obs.proc_state != "R":
            tally.unreadable += 1
        if obs.syscall is not None and obs.syscall in self.event_wait:
            tally.idle += 1
            self._end(tally)
            return
        if state == "gil_held":
            tally.busy_held += 1
        else:
            tally.busy_other += 1
        if tally.current is None:
            tally.current = Stretch(t_s)
        tally.current.ticks += 1
        tally.current.states[state] += 1
        tally.current.lines[self._line(key, frames)] += 1

    def _drop(self, tally: LoopTally) -> None:
        """A stretch the loop never came back from to wait: its stop (closing, cancelling,
        shutting executors down), or the run's end. Not a callback that held it up."""
        tally.current = None

    def _end(self, tally: LoopTally) -> None:
        stretch = tally.current
        if stretch is None:
            return
        tally.current = None
        tally.longest = max(tally.longest, stretch.ticks)
        if stretch.ticks >= self.keep_ticks:
            tally.stretches.append(stretch)

    def finish(self) -> dict[tuple[int, int], LoopTally]:
        for tally in self.loops.values():
            self._drop(tally)
        return self.loops
