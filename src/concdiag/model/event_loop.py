"""The profile's ``event_loop`` part: what kept a program's asyncio event loop from
answering, measured from outside.

The loop's thread is the one whose stacks run in the asyncio package. At each tick it is
either waiting for its next event (blocked in the kernel's event wait: idle, ready to answer)
or busy running a callback. A stretch of busy ticks is one callback (or several back to back)
holding the loop: every other task waits that long, its lag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: What held the loop: ``cpu`` (its thread held the GIL: Python code computing) or
#: ``blocking`` (the GIL released: a blocking call, I/O or native code).
STALL_KINDS = ("cpu", "blocking")


@dataclass(frozen=True, slots=True)
class LoopStall:
    """A stretch the loop was busy for longer than the slow-callback limit."""

    start_s: float  # since the run started
    duration_s: float
    function: str | None  # the program's innermost line seen most in the stretch
    file: str | None
    line: int | None
    kind: str  # one of STALL_KINDS
    gil_held_share: float  # of the stretch's ticks


@dataclass(frozen=True, slots=True)
class EventLoop:
    pid: int
    tid: int
    thread: str
    observed_s: float  # time the loop was seen running
    idle_share: float  # waiting for its next event
    callbacks_gil_share: float  # running callbacks holding the GIL
    callbacks_other_share: float  # busy without the GIL: blocking calls, native code, GIL waits
    longest_busy_s: float  # the loop's worst lag
    slow_limit_s: float  # stretches at least this long are listed
    stalls: list[LoopStall] = field(default_factory=list)  # longest first
    stalls_total_s: float = 0.0  # all stretches over the limit, listed or not
