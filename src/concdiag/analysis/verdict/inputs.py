"""The figures the verdict's rules read (`Inputs`), and the shares they compare (`Shares`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from concdiag.model import States
from concdiag.model.event_loop import LoopStall
from concdiag.model.gil_blame import BlamedLine


@dataclass(frozen=True, slots=True)
class ShippingFigures:
    """What a process pool would pay to pickle the run's thread-pool tasks (estimated in the
    target by `agent/pools/shipping.py`; `analysis/verdict/shipping.py` sums the pools)."""

    measured: bool = False
    parent_s: float = 0.0  # pickling arguments, unpickling results
    workers_s: float = 0.0  # unpickling arguments, pickling results
    tasks: int = 0
    sampled: int = 0
    #: The costliest pool's median task: argument bytes, seconds to pickle and unpickle them.
    argument_bytes: float = 0.0
    argument_pickle_s: float = 0.0
    argument_unpickle_s: float = 0.0
    at: str = ""  # where its tasks were submitted (file:line)
    error: str = ""  # why pickling a task failed, when it did
    cost_s: float = 0.0  # the target's CPU spent estimating

    @property
    def total_s(self) -> float:
        return self.parent_s + self.workers_s


@dataclass(frozen=True, slots=True)
class Inputs:
    """The figures the rules read, derived from the accounting."""

    python_cpu_s: float  # GIL held
    gil_wait_s: float
    native_cpu_s: float
    io_s: float
    lock_s: float  # sync waits that are not coordination
    unknown_s: float
    sleep_s: float  # sleep that paces the program (rate limiting, polling)
    wall_s: float
    cores: int
    worker_threads: int
    samples: int
    gil_measured: bool
    gil_enabled: bool
    stacks_available: bool
    #: CPU in pool machinery (already inside python_cpu_s / native_cpu_s): pickling and
    #: piping arguments and results, and dispatching tasks and futures.
    serialise_held_s: float = 0.0
    serialise_native_s: float = 0.0
    dispatch_held_s: float = 0.0
    dispatch_native_s: float = 0.0
    #: The part of that pool overhead spent in worker processes rather than in the parent.
    overhead_in_workers_s: float = 0.0
    #: CPU (already inside python_cpu_s / native_cpu_s) that no number of workers divides:
    #: the root process's imports and its coordinating threads' own work.
    serial_held_s: float = 0.0
    serial_native_s: float = 0.0
    #: I/O waits (already inside io_s) that no number of workers divides: the root's main
    #: thread's own, while no worker worked.
    serial_io_s: float = 0.0
    #: Sampling variance of the worker seconds per state (s^2), from the threads' error bars.
    variance_s2: States = field(default_factory=States)
    start_method: str = "fork"  # what worker processes would be started with
    cores_used_mean: float = 0.0  # CPU of every process / wall
    tick_s: float = 0.01  # the sampling interval: one tick stands for this long
    #: Worker processes seen, the CPU they spent starting up (importing: already inside
    #: python_cpu_s / native_cpu_s, and not work serial would do), and the rest of their CPU.
    worker_processes: int = 0
    worker_start_s: float = 0.0
    worker_start_native_s: float = 0.0  # of the start-up, CPU with the GIL released
    worker_work_s: float = 0.0
    #: Of those, the processes seen starting (importing): a forked child that imports
    #: nothing, or one that only execs a command, starts no interpreter of its own.
    started_processes: int = 0
    #: The most worker processes alive at one time (1: they ran one after another).
    workers_at_once: int = 0
    #: External commands (processes of the tree running no Python) that computed, and their
    #: CPU (already inside native_cpu_s: work the program hands to them).
    external_processes: int = 0
    external_cpu_s: float = 0.0
    #: Seconds in which every thread of the tree waited on another (hand-offs, timeouts).
    mutual_wait_s: float = 0.0
    #: Worker processes ran their tasks through a multiprocessing or concurrent.futures task
    #: call (seen in their stacks, wherever the pool was created).
    pool_in_workers: bool = False
    #: Sleep (already inside io_s, and not in sleep_s) at lines outside any loop of their own
    #: function: waiting inside each item's work, as a remote call's latency; and the line
    #: that slept longest so (``function, file:line``).
    sleep_in_calls_s: float = 0.0
    sleep_in_calls_at: str = ""
    shipping: ShippingFigures = field(default_factory=ShippingFigures)
    #: The line GIL holders were at while other threads waited most (`gil_blame`).
    gil_holder: BlamedLine | None = None
    #: The asyncio loop's busy stretches longer than a slow callback (`event_loop`).
    loop_stalls: tuple[LoopStall, ...] = ()

    @property
    def start_per_worker_s(self) -> float:
        """The measured start-up of one worker process that started an interpreter of its
        own (0 when none did): forked children that import nothing do not dilute it."""
        started = self.started_processes or self.worker_processes
        return self.worker_start_s / started if started else 0.0

    @property
    def serialise_s(self) -> float:
        return self.serialise_held_s + self.serialise_native_s

    @property
    def dispatch_s(self) -> float:
        return self.dispatch_held_s + self.dispatch_native_s

    @property
    def serial_s(self) -> float:
        return self.serial_held_s + self.serial_native_s

    @property
    def demand_s(self) -> float:
        return self.python_cpu_s + self.gil_wait_s + self.native_cpu_s + self.io_s + self.lock_s

    @property
    def samples_per_s(self) -> float:
        return 1.0 / self.tick_s if self.tick_s > 0 else 0.0

    def share(self, seconds: float) -> float:
        return seconds / self.demand_s if self.demand_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Shares:
    """The shares the rules compare with their thresholds, computed once per verdict."""

    cpu_s: float
    cpu_share: float
    io_share: float
    sync_share: float
    python_of_cpu: float
    sleep_of_io: float
    busy_of_wall: float

    @classmethod
    def of(cls, inputs: Inputs) -> Shares:
        cpu_s = inputs.python_cpu_s + inputs.gil_wait_s + inputs.native_cpu_s
        return cls(
            cpu_s=cpu_s,
            cpu_share=inputs.share(cpu_s),
            io_share=inputs.share(inputs.io_s),
            sync_share=inputs.share(inputs.lock_s),
            python_of_cpu=(inputs.python_cpu_s + inputs.gil_wait_s) / cpu_s if cpu_s > 0 else 0.0,
            sleep_of_io=min(1.0, inputs.sleep_s / inputs.io_s) if inputs.io_s > 0 else 0.0,
            busy_of_wall=(inputs.python_cpu_s + inputs.native_cpu_s) / inputs.wall_s,
        )
