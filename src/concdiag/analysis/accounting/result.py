"""What the accounting makes of a run: the figures the verdict and the renderers read."""

from __future__ import annotations

from dataclasses import dataclass, field

from concdiag.analysis.accounting.event_loop import LoopTally
from concdiag.model import (
    Frame,
    ProcessProfile,
    StackCount,
    States,
    Summary,
    Timeline,
)


@dataclass
class Accounting:
    """Everything the verdict and renderers need, derived from one recording."""

    processes: list[ProcessProfile]
    summary: Summary
    timeline: Timeline
    frames: list[Frame]
    stacks: list[StackCount]
    coordination_s: float
    sleep_s: float
    lock_sync_s: float
    worker_threads: int
    side_workers: int  # worker threads other than each process's main thread
    samples: int
    wall_s: float
    asyncio_seen: bool
    child_python_processes: int
    files_seen: set[str]
    #: CPU seconds Python threads spent in pool machinery, by kind and by state:
    #: {"serialise": {"gil_held": s, "native": s}, "dispatch": {...}}.
    pool_overhead_s: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The part of it spent in processes other than the root: the pool's workers.
    pool_overhead_in_workers_s: float = 0.0
    #: CPU seconds of the root process that no number of workers would divide, by state
    #: ("gil_held", "native"): its imports, and its coordinating threads' own work.
    serial_cpu_s: dict[str, float] = field(default_factory=dict)
    #: The root's main thread's own I/O waits while no worker worked: serial too.
    serial_io_s: float = 0.0
    #: The root process's main thread ran an asyncio event loop.
    asyncio_main: bool = False
    #: Sampling instants accounted (one per process per tick).
    ticks: int = 0
    #: Sampling variance of the Python threads' seconds per state (s^2): the error bars,
    #: summed, for the verdict's confidence.
    worker_variance_s2: States = field(default_factory=States)
    #: The sampling interval (s): one tick of any thread stands for this long.
    tick_s: float = 0.01
    #: Per worker process (pid): CPU seconds spent starting up (importing), and on the rest.
    worker_start_s: dict[int, float] = field(default_factory=dict)
    worker_start_native_s: float = 0.0  # of it, with the GIL released
    worker_work_s: dict[int, float] = field(default_factory=dict)
    #: CPU seconds of the tree's external commands (processes running no Python), by pid.
    external_cpu_s: dict[int, float] = field(default_factory=dict)
    #: Seconds in which every thread of the tree waited on another (`mutual_wait_s`).
    mutual_wait_s: float = 0.0
    #: Worker processes ran tasks through a multiprocessing or concurrent.futures task call.
    pool_in_workers: bool = False
    #: Python threads' own sleeps, by the line that called sleep.
    sleep_sites_s: dict[tuple[str, str, int], float] = field(default_factory=dict)
    #: Samples at each of those lines that found the thread woken since its previous one.
    sleep_wakes: dict[tuple[str, str, int], int] = field(default_factory=dict)
    #: Ticks of GIL wait by (pid, waiter tid, holder tid, the holder's line): who held the
    #: GIL while each thread waited, and where (`gil_blame`). None: holder or line unknown.
    #: Per thread that ran an asyncio event loop: its idle and busy ticks, and its busy
    #: stretches as long as a slow callback (`event_loop`).
    event_loops: dict[tuple[int, int], LoopTally] = field(default_factory=dict)
    gil_blame: dict[tuple[int, int, int | None, tuple[str, str, int] | None], int] = field(
        default_factory=dict
    )
