"""Each thread's states and role, and what the Python threads add up to.

A thread's samples become shares and seconds per state; its waits for other workers make it
a coordinator. The Python threads' seconds, pool overhead and serial CPU are summed here, for
the summary and the verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set
from dataclasses import dataclass, field

from concdiag.analysis.accounting.clock_figures import ThreadClockFigures
from concdiag.analysis.accounting.tally import ThreadCounters
from concdiag.model import STATE_KEYS, States

#: A thread whose samples are this share (or more) waits for other workers is a coordinator
#: (a main thread joining its pool): a stated choice, a clear majority of its life.
COORDINATOR_SHARE = 0.6
#: A thread busy (or waiting on work of its own) for less than this share of its life is idle.
IDLE_THREAD_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class ThreadStates:
    """One thread's samples per state, as counts, shares and seconds, and its role."""

    counts: dict[str, float]
    shares: States
    seconds: States
    alive_s: float
    waits_for_workers: Counter[str]
    role: str
    #: Its samples asleep that were not waiting for its child processes.
    own_sleep: int = 0


def thread_states(
    acc: ThreadCounters,
    task_bins: set[int],
    interval: float,
    children_busy: frozenset[int] = frozenset(),
    relayed: frozenset[int] = frozenset(),
) -> ThreadStates:
    """The thread's states as shares of its samples and as seconds, and the role they give it.

    ``children_busy``: the timeline bins in which a descendant process of the thread's own
    was on a CPU. ``relayed``: the bins in which its process did nothing but wait, one of
    its threads on the tree's own pipes and sockets (`relay_bins`).
    """
    alive_s = acc.samples * interval
    counts = {k: float(acc.counts.get(k, 0)) for k in STATE_KEYS}
    total = sum(counts.values()) or 1.0
    shares = States(**{k: counts[k] / total for k in STATE_KEYS})
    polled = sleep_polling_children(acc, children_busy)
    waits_for_workers = coordination_by_state(acc, task_bins)
    waits_for_workers["io"] += polled
    waits_for_workers["sync"] += sync_waiting_on_relay(acc, relayed)
    coordination_share = sum(waits_for_workers.values()) / total
    return ThreadStates(
        counts=counts,
        shares=shares,
        seconds=shares.scaled(alive_s),
        alive_s=alive_s,
        waits_for_workers=waits_for_workers,
        role=thread_role(shares, coordination_share),
        own_sleep=acc.sleep - polled,
    )


def sleep_polling_children(acc: ThreadCounters, children_busy: frozenset[int]) -> int:
    """Samples asleep while the thread's child processes worked: polling for them.

    A parent that sleeps in a loop and checks its workers between naps (``while
    running: poll(); sleep(0.02)``) waits for them as surely as one blocked reading their
    pipe, though the kernel shows only a sleep. Judged per timeline bin: a nap in a bin where
    no descendant process ran is the thread's own (pacing, a timer).
    """
    return sum(c["sleep"] for b, c in acc.flags.items() if b in children_busy)


def sync_waiting_on_relay(acc: ThreadCounters, relayed: frozenset[int]) -> int:
    """Samples blocked on a lock, queue or condition while its process did nothing but wait
    on the tree: waiting for a message that one of its threads relays from another process.

    A library's channel thread reads a pipe or socket to a worker process and hands what
    it reads to the thread that waits on a queue: the queue's wait is the channel's, and as
    much coordination as a read of the pipe itself (the kernel shows the channel thread's
    wait; no library's names are needed). A lock held by a thread that runs is not this.
    """
    return sum(
        c["sync"] - acc.flags.get(b, Counter())["coordination_sync"]
        for b, c in acc.bins.items()
        if b in relayed
    )


def thread_role(shares: States, coordination_share: float) -> str:
    """A coordinator mostly waits for other workers; an idle thread barely does anything."""
    busy = shares.get("gil_held") + shares.native + shares.get("gil_wait")
    if coordination_share >= COORDINATOR_SHARE:
        return "coordinator"
    if busy + shares.io + shares.sync - coordination_share < IDLE_THREAD_SHARE:
        return "idle"
    return "worker"


def coordination_by_state(acc: ThreadCounters, task_bins: set[int]) -> Counter[str]:
    """The thread's samples waiting for other workers, by state.

    Joins, futures and pool results are judged per sample from the stack. An event loop
    blocked in its selector waits for the pool's tasks when they run meanwhile (a task ran in
    the same timeline bin: the loop awaits their futures, as in ``run_in_executor``); with no
    task running, its wait is I/O on its sockets and timers.
    """
    waits = Counter(acc.coordination)
    waits["io"] += sum(c["loop_wait"] for b, c in acc.flags.items() if b in task_bins)
    return waits


@dataclass(slots=True)
class PythonTotals:
    """Sums over the Python threads, added thread by thread."""

    thread_seconds: States = field(default_factory=States)
    worker_seconds: States = field(default_factory=States)
    worker_variance: States = field(default_factory=States)
    coordination_s: float = 0.0
    sleep_s: float = 0.0
    #: The thread's own sleeps (not polling for children), by the line that called sleep.
    sleep_sites_s: dict[tuple[str, str, int], float] = field(default_factory=dict)
    sleep_wakes: dict[tuple[str, str, int], int] = field(default_factory=dict)
    lock_sync_s: float = 0.0
    overhead_s: dict[str, dict[str, float]] = field(default_factory=dict)
    overhead_in_workers_s: float = 0.0
    serial_cpu_s: dict[str, float] = field(default_factory=lambda: {"gil_held": 0.0, "native": 0.0})
    #: The root's main thread's own I/O waits while no worker worked (reading the input
    #: before a pool starts, cleaning up after it): no number of workers divides them.
    serial_io_s: float = 0.0
    worker_threads: int = 0
    side_workers: int = 0
    #: Per worker process (not the root): CPU spent starting up (importing modules, its own
    #: and those its tasks need), and CPU spent on anything else (the work), by pid.
    worker_start_s: dict[int, float] = field(default_factory=dict)
    #: Of that start-up, the CPU with the GIL released (reading and unmarshalling modules).
    worker_start_native_s: float = 0.0
    worker_work_s: dict[int, float] = field(default_factory=dict)
    #: CPU seconds of external commands (processes of the tree that run no Python: a
    #: compiler, gzip), by pid: work the program hands to them.
    external_cpu_s: dict[int, float] = field(default_factory=dict)

    def add_external(self, acc: ThreadCounters, states: ThreadStates, interval: float) -> None:
        """Add a thread of an external command: its time, less its waits for its own children
        (a shell waiting on the command it started), is work the program delegated.

        Its CPU is native work: it holds no GIL, so threads waiting on several commands run
        them at once.
        """
        seconds = without_coordination(states.counts, states.waits_for_workers, interval)
        cpu = seconds.get("gil_held") + seconds.native
        work = States(
            gil_held=0.0,
            gil_wait=0.0,
            native=cpu,
            io=seconds.io,
            sync=seconds.sync,
            unknown=seconds.get("unknown"),
        )
        self.worker_seconds = self.worker_seconds.plus(work)
        if cpu > 0:
            self.external_cpu_s[acc.pid] = self.external_cpu_s.get(acc.pid, 0.0) + cpu

    def add(
        self,
        acc: ThreadCounters,
        states: ThreadStates,
        clocks: ThreadClockFigures,
        *,
        root_pid: int,
        task_bins: Set[int],
        interval: float,
        fresh_interpreter: bool = False,
    ) -> None:
        """Add one Python thread's seconds, waits, pool overhead and serial CPU.

        ``task_bins``: the timeline bins in which the program's workers worked (a pool's
        tasks ran, or else its child processes were on a CPU): the main thread's own CPU
        outside them does not divide among workers. ``fresh_interpreter``: its process
        started an interpreter of its own (it was not forked from its parent).
        """
        self.thread_seconds = self.thread_seconds.plus(states.seconds)
        self.coordination_s += sum(states.waits_for_workers.values()) * interval
        self.sleep_s += states.own_sleep * interval
        own = states.own_sleep / acc.sleep if acc.sleep else 0.0
        for site, count in acc.sleep_sites.items():
            self.sleep_sites_s[site] = self.sleep_sites_s.get(site, 0.0) + count * interval * own
            self.sleep_wakes[site] = self.sleep_wakes.get(site, 0) + acc.sleep_wakes[site]
        worker = clocks.without_pre_empted(
            without_coordination(states.counts, states.waits_for_workers, interval),
            states.alive_s,
        )
        # GIL held while pre-empted is not the program's work, nor the pool's: the pool's
        # GIL-held seconds shrink with the thread's
        held_kept = worker.get("gil_held") / (states.counts["gil_held"] * interval or 1.0)
        own_overhead = self.add_overhead(acc, held_kept, root_pid=root_pid, interval=interval)
        if acc.pid != root_pid:
            self.add_worker_process_cpu(acc, worker, held_kept, interval, fresh_interpreter)
        if acc.pid == root_pid:
            for state in self.serial_cpu_s:
                kept = held_kept if state == "gil_held" else 1.0
                serial = serial_cpu(
                    acc, states.role, worker, own_overhead, task_bins, state, kept, interval
                )
                self.serial_cpu_s[state] += max(0.0, serial)
            if acc.tid == acc.pid and task_bins:
                self.serial_io_s += alone_io(acc, task_bins) * interval
        self.worker_seconds = self.worker_seconds.plus(worker)
        self.worker_variance = self.worker_variance.plus(
            clocks.worker_variance(states.seconds, worker)
        )
        self.lock_sync_s += worker.sync
        if states.role == "worker":
            self.worker_threads += 1
            self.side_workers += int(acc.tid != acc.pid)

    def add_worker_process_cpu(
        self,
        acc: ThreadCounters,
        worker: States,
        held_kept: float,
        interval: float,
        fresh_interpreter: bool,
    ) -> None:
        """A worker process's thread: its start-up CPU (`ThreadCounters.start_up`) is
        start-up, the rest of its CPU work."""
        starting = acc.start_up(fresh_interpreter)
        native_start = starting["native"] * interval
        start = starting["gil_held"] * held_kept * interval + native_start
        self.worker_start_native_s += native_start
        cpu = worker.get("gil_held") + worker.native
        self.worker_start_s[acc.pid] = self.worker_start_s.get(acc.pid, 0.0) + start
        self.worker_work_s[acc.pid] = self.worker_work_s.get(acc.pid, 0.0) + max(0.0, cpu - start)

    def add_overhead(
        self, acc: ThreadCounters, held_kept: float, *, root_pid: int, interval: float
    ) -> dict[str, float]:
        """Add the thread's pool machinery seconds; return them by state."""
        own_overhead = {"gil_held": 0.0, "native": 0.0}
        for (kind, state), count in acc.overhead.items():
            overhead = count * interval * (held_kept if state == "gil_held" else 1.0)
            by_state = self.overhead_s.setdefault(kind, {})
            by_state[state] = by_state.get(state, 0.0) + overhead
            own_overhead[state] += overhead
            if acc.pid != root_pid:
                self.overhead_in_workers_s += overhead
        return own_overhead


def without_coordination(
    counts: dict[str, float], waits_for_workers: Counter[str], interval: float
) -> States:
    """The thread's seconds per state, minus the time it spent waiting for other workers."""
    seconds = {k: counts[k] * interval for k in STATE_KEYS}
    for state, samples in waits_for_workers.items():
        seconds[state] = max(0.0, seconds[state] - samples * interval)
    return States(**seconds)


def serial_cpu(
    acc: ThreadCounters,
    role: str,
    worker: States,
    own_overhead: dict[str, float],
    task_bins: Set[int],
    state: str,
    kept: float,
    interval: float,
) -> float:
    """A root-process thread's CPU seconds in ``state`` that no number of workers divides."""
    if role == "coordinator":  # all its own CPU: feeding workers, collecting
        return worker.get(state) - own_overhead[state]
    if acc.tid == acc.pid and task_bins:  # a pool ran: the main thread's
        # own CPU while no task ran anywhere (preparing the pool's input)
        return alone_cpu(acc, task_bins, state) * interval * kept
    # its imports (a pool's workers pay theirs each, in parallel)
    return acc.importing[state] * interval * kept


def alone_cpu(acc: ThreadCounters, task_bins: Set[int], state: str) -> int:
    """On-CPU samples in ``state`` outside pool machinery, in bins where no task ran."""
    return sum(
        counts[state] - acc.flags.get(b, Counter())[f"overhead_{state}"]
        for b, counts in acc.bins.items()
        if b not in task_bins
    )


def alone_io(acc: ThreadCounters, task_bins: Set[int]) -> int:
    """Samples waiting on the thread's own I/O (``own_io``) in bins where no task ran."""
    return sum(flags["own_io"] for b, flags in acc.flags.items() if b not in task_bins)
