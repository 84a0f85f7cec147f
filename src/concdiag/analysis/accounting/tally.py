"""What the accounting keeps while ticks stream through it, and what it hands on.

Counters grow with the number of threads, distinct stacks and timeline bins, never with the
length of the run: a tick is counted and dropped.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

from concdiag.analysis.accounting.stack_roles import StackRoles, roles_of
from concdiag.analysis.accounting.tick_clocks import STARVED
from concdiag.analysis.accounting.tick_states import is_sleep
from concdiag.own_code import strip_own
from concdiag.recording.records import StackChange, ThreadObservation
from concdiag.recording.syscalls import SyscallTable

StackKey = tuple[tuple[str, str, int], ...]


@dataclass
class ThreadCounters:
    """One thread's samples so far: per state, per timeline bin, per stack and leaf."""

    pid: int
    tid: int
    counts: Counter[str] = field(default_factory=Counter)
    #: Waits for other workers, by state (``sync`` or ``io``).
    coordination: Counter[str] = field(default_factory=Counter)
    #: Samples blocked on a pipe or socket to another process of the tree (or a child).
    ipc: int = 0
    sleep: int = 0
    #: Samples asleep by the Python line that called sleep (the stack's leaf), and how many
    #: of them found the thread woken since its previous sample (the scheduler's count of
    #: its runs grew): one long sleep wakes once, a sleep per item once per item.
    sleep_sites: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    sleep_wakes: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    last_timeslices: int | None = None
    overhead: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, state)
    #: On-CPU samples starting up (not pool machinery), by state: importing modules, and, in
    #: a worker process, running lines the root process ran at its own start-up.
    importing: Counter[str] = field(default_factory=Counter)
    #: On-CPU samples before the thread's first readable stack, by state; whether one was
    #: read, and whether it showed the thread starting up (importing, or repeating the root's
    #: start-up).
    before_stack: Counter[str] = field(default_factory=Counter)
    stacked: bool = False
    first_stack_starts: bool = False
    samples: int = 0
    first_s: float = float("inf")
    last_s: float = 0.0
    leaf: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    leaf_states: dict[tuple[str, str, int], Counter[str]] = field(default_factory=dict)
    stacks: Counter[tuple[StackKey, str]] = field(default_factory=Counter)
    bins: dict[int, Counter[str]] = field(default_factory=dict)
    #: Per timeline bin: samples running a pool's task (``task``); samples of an event loop
    #: blocked in its selector (``loop_wait``), to tell whether the loop waited for them;
    #: samples asleep (``sleep``), to tell whether the thread polled for its child processes
    #: meanwhile; samples blocked on the tree's own pipes and sockets (``ipc``); samples
    #: waiting on I/O of the thread's own (``own_io``: not asleep, not waiting for the tree
    #: or for other workers); waits its stack shows are for other workers
    #: (``coordination_sync``, ``coordination_io``); and on-CPU samples in pool machinery
    #: (``overhead_gil_held``, ``overhead_native``).
    flags: dict[int, Counter[str]] = field(default_factory=dict)
    #: Observed samples runnable but waiting for a CPU (counted in ``unknown`` too).
    starved: int = 0
    #: Ticks the sampler missed while the thread was alive (counted in ``unknown`` too).
    missed: int = 0
    #: Its clocks at its first and last observation: (time, run ns or None, CPU ticks).
    first_clock: tuple[float, int | None, int] | None = None
    last_clock: tuple[float, int | None, int] | None = None

    def add(
        self,
        t_s: float,
        b: int,
        state: str,
        obs: ThreadObservation,
        frames: StackKey,
        syscalls: SyscallTable,
        *,
        repeats_start_up: bool = False,
    ) -> None:
        """Count one sample of this thread: its state, bin, wait kind, stack and clocks."""
        clock = (t_s, obs.run_ns, obs.cpu_ticks)
        previous_timeslices, self.last_timeslices = self.last_timeslices, obs.timeslices
        if self.first_clock is None:
            self.first_clock = clock
        self.last_clock = clock
        if state == STARVED:
            self.starved += 1
            state = "unknown"
        self.samples += 1
        self.counts[state] += 1
        self.first_s = min(self.first_s, t_s)
        self.last_s = max(self.last_s, t_s)
        self.bins.setdefault(b, Counter())[state] += 1
        asleep = state == "io" and is_sleep(obs, syscalls)
        if asleep:
            self.sleep += 1
            self.flags.setdefault(b, Counter())["sleep"] += 1
        # waiting on a pipe or socket to the tree itself, or a child: coordination, whatever
        # library made the channel (the kernel's facts; the stack need not be known)
        waits_on_tree = state == "io" and obs.ipc is True
        if waits_on_tree:
            self.coordination[state] += 1
            self.ipc += 1
            self.flags.setdefault(b, Counter())["ipc"] += 1
        roles = roles_of(frames) if frames else None
        if not self.stacked:
            self.note_start(state, roles, repeats_start_up)
        if state == "io" and not (asleep or waits_on_tree or (roles and roles.coordination)):
            self.flags.setdefault(b, Counter())["own_io"] += 1
        if roles is not None:
            if waits_on_tree:
                pass
            elif state in ("sync", "io") and roles.coordination:
                self.coordination[state] += 1
                self.flags.setdefault(b, Counter())[f"coordination_{state}"] += 1
            elif state == "io" and roles.loop_wait:
                self.flags.setdefault(b, Counter())["loop_wait"] += 1
            if roles.in_task and state != "unknown":
                self.flags.setdefault(b, Counter())["task"] += 1
            if state in ("gil_held", "native") and roles.overhead is not None:
                self.overhead[(roles.overhead, state)] += 1
                self.flags.setdefault(b, Counter())[f"overhead_{state}"] += 1
            elif state in ("gil_held", "native") and (roles.importing or repeats_start_up):
                self.importing[state] += 1
            leaf = frames[-1]
            if asleep:
                self.sleep_sites[leaf] += 1
                woke = obs.timeslices is None or (
                    previous_timeslices is not None and obs.timeslices > previous_timeslices
                )
                self.sleep_wakes[leaf] += woke
            self.leaf[leaf] += 1
            self.leaf_states.setdefault(leaf, Counter())[state] += 1
            self.stacks[(frames, state)] += 1

    def note_start(self, state: str, roles: StackRoles | None, repeats_start_up: bool) -> None:
        """Count the on-CPU samples taken before the thread's first readable stack, and note
        whether that stack shows it starting up (`start_up`)."""
        if roles is None:
            if state in ("gil_held", "native"):
                self.before_stack[state] += 1
            return
        self.stacked = True
        self.first_stack_starts = roles.importing or repeats_start_up

    def start_up(self, fresh_interpreter: bool) -> Counter[str]:
        """On-CPU samples starting up, by state: importing, repeating the root's start-up,
        and, in a fresh interpreter whose first readable stack was starting up, the samples
        before it.

        A new interpreter's frames cannot be read until it has set itself up, so its first
        samples (the interpreter starting, its first imports) come with no stack. A forked
        child has no interpreter to start: its samples before its first stack are the
        sampler's lag, and stay work.
        """
        if fresh_interpreter and self.first_stack_starts:
            return self.importing + self.before_stack
        return self.importing

    def add_missed(self, count: int) -> None:
        """Ticks the sampler missed while this thread was alive: unknown, so shares stay whole."""
        self.counts["unknown"] += count
        self.samples += count
        self.missed += count


@dataclass
class ProcessTally:
    """One process's ticks so far: when seen, GIL samples and switch counter, CPU ticks."""

    first_s: float
    last_s: float
    last_tids: frozenset[int] = frozenset()
    gil_held: int = 0
    gil_measured: int = 0
    first_switches: int | None = None
    last_switches: int | None = None
    switch_samples: int = 0
    last_cpu: tuple[float, int] | None = None  # (tick time, cumulative CPU clock ticks)

    @property
    def switches(self) -> int | None:
        """Forced GIL switches between the first and last tick that read the counter."""
        if self.switch_samples < 2 or self.first_switches is None or self.last_switches is None:
            return None
        return self.last_switches - self.first_switches


class StackCursor:
    """The stack a thread had at time t, for monotonically increasing t.

    Stacks are the user's: concdiag's own frames in the target are taken out here, once
    (`own_code.strip_own`), so nothing downstream sees them.
    """

    def __init__(self, changes: list[StackChange]) -> None:
        self.times = [c.t_s for c in changes]
        stripped: dict[StackKey, StackKey] = {}  # one tuple per distinct stack
        self.frames = []
        for change in changes:
            frames = stripped.get(change.frames)
            if frames is None:
                frames = stripped[change.frames] = strip_own(change.frames)
            self.frames.append(frames)

    def at(self, t_s: float) -> StackKey:
        i = bisect.bisect_right(self.times, t_s) - 1
        if i < 0:
            return ()
        return self.frames[i]
