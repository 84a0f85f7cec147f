"""What the collectors observed, before any analysis: plain immutable records.

Collectors produce them and the analysis consumes them; neither side's code is needed to read
them. A `Chunk` is a stretch of ticks handed from a collector to the accounting; the whole
run's records make a `concdiag.recording.recording.Recording`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ThreadObservation:
    """One OS thread at one tick, as /proc showed it."""

    tid: int
    proc_state: str  # the state letter of /proc/<pid>/task/<tid>/stat: R, S, D, ...
    syscall: int | None  # the blocking system call number, None when running or unknown
    futex_on_gil: bool  # blocked in futex() on an address inside the GIL state
    cpu_ticks: int  # utime + stime in clock ticks, cumulative
    # Python 3.15+: the thread state's own flags (None where the interpreter has none)
    holds_gil: bool | None = None
    gil_requested: bool | None = None
    #: The scheduler's own clocks for the thread (``schedstat``), cumulative nanoseconds: time
    #: on a CPU, and time runnable but waiting in a run queue for one; and how many times it
    #: was put on a CPU. None where not read (in-process collector, recordings before v3).
    run_ns: int | None = None
    run_delay_ns: int | None = None
    timeslices: int | None = None
    #: Blocked waiting on the traced tree itself: every pipe or socket the call waits on
    #: leads to a process of the tree (or a child it waits for). False when any of it leads
    #: out (a file, a terminal, another host); None when not judged (running, not an fd wait,
    #: the in-process collector, recordings before v4).
    ipc: bool | None = None


@dataclass(frozen=True, slots=True)
class Tick:
    """One sampling instant of one process."""

    t_s: float  # seconds since the run started
    pid: int
    gil_locked: bool | None  # None when the GIL word could not be read
    gil_holder_tid: int | None  # OS thread id of the GIL holder, when locked and known
    gil_switches: int | None  # the interpreter's cumulative count of forced GIL switches
    process_cpu_ticks: int
    threads: tuple[ThreadObservation, ...]


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    pid: int
    tid: int
    name: str
    ident: int | None
    python: bool
    is_main: bool
    started_s: float | None = None
    ended_s: float | None = None


@dataclass(frozen=True, slots=True)
class ProcessCounters:
    """psutil's view of one process at one moment: CPU and context switches since sampling
    began (or since the process started, when it started later), RSS and threads now."""

    t_s: float
    pid: int
    ppid: int | None
    cpu_user_s: float
    cpu_system_s: float
    ctx_voluntary: int
    ctx_involuntary: int
    rss_bytes: int
    num_threads: int


@dataclass(frozen=True, slots=True)
class ThreadCpu:
    """A thread's CPU time (seconds) over the sampled window, from /proc/<pid>/task/<tid>/stat:
    at the end, less what it had used before sampling began."""

    pid: int
    tid: int
    user_s: float
    system_s: float


@dataclass(frozen=True, slots=True)
class StackChange:
    """From ``t_s`` on (until the next change), the thread's Python stack was ``frames``."""

    t_s: float
    frames: tuple[tuple[str, str, int], ...]  # (function, file, line), outermost first


@dataclass(frozen=True, slots=True)
class TargetInfo:
    pid: int
    executable: str
    version: str
    implementation: str
    gil_enabled: bool
    free_threaded_build: bool
    switch_interval_s: float | None
    gil_found: bool
    main_tid: int


Stacks = dict[tuple[int, int], list[StackChange]]


@dataclass(frozen=True, slots=True)
class Chunk:
    """Ticks of a stretch of the run, in time order, with the stacks seen in that stretch."""

    ticks: list[Tick]
    stacks: Stacks = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CollectorNote:
    """One line of the report's collectors list: who collected what, or why not."""

    name: str
    ok: bool
    detail: str
