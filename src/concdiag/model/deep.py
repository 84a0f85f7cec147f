"""Deep mode's tables: an optional part of the profile (``--deep``)."""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.model.states import States

DEEP_BEHAVIOURS = ("computes", "gil_wait", "io_wait", "lock_wait", "awaits", "mixed", "unsampled")


@dataclass(frozen=True, slots=True)
class DeepFunction:
    """One function in one thread: yappi's exact calls and CPU beside the sampler's wall time.

    ``*_s`` without ``self`` are inclusive (callees included). ``state_seconds`` are the
    sampler's inclusive seconds per thread state, so wall = sum of them.
    """

    function: str
    file: str
    line: int  # where it is defined (yappi), else the first line the sampler saw
    calls: int | None  # None when yappi did not trace it in this thread
    cpu_s: float | None  # inclusive CPU: yappi's CPU clock, or sampler-estimated (cpu_source)
    cpu_self_s: float | None
    wall_s: float  # inclusive wall time, sampled
    wall_self_s: float  # top of the Python stack, sampled
    traced_wall_s: float | None  # yappi's inclusive wall time (wall clock only; awaits count)
    awaiting_s: float | None  # traced wall the sampler never saw running: suspended in await
    state_seconds: States
    behaviour: str  # one of DEEP_BEHAVIOURS


@dataclass(frozen=True, slots=True)
class DeepThread:
    pid: int
    tid: int
    name: str
    traced: bool  # yappi saw this thread
    cpu_s: float | None  # the thread's CPU while traced (yappi CPU clock)
    sched_count: int | None  # times yappi saw the thread take over from another thread
    alive_s: float  # the thread's sampled alive time
    functions_traced: int
    functions: list[DeepFunction]


@dataclass(frozen=True, slots=True)
class DeepProfile:
    """Deep mode (``--deep``): yappi traced every call in the launched process."""

    pid: int
    clock: str  # yappi's clock: cpu or wall
    clock_reason: str
    cpu_source: str  # yappi (CPU clock) or sampler (wall clock: on-CPU samples)
    yappi_version: str
    traced_s: float
    collect_s: float  # time the target spent saving yappi's tables at exit
    sched_count: int  # summed over threads
    ctx_switches_voluntary: int  # the process's, from psutil
    ctx_switches_involuntary: int
    threads: list[DeepThread]
    notes: list[str]
