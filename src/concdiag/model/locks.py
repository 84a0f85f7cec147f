"""The profile's ``locks`` part: which locks were waited for, who held them, and deadlocks.

Optional (``Profile.locks`` is null without lock tracking): a profile without it is still a
schema version 2 profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

#: What the analysis advises for a contended lock (`LockProfile.advice_kind`).
LOCK_ADVICE = ("move_blocking_call", "own_resource", "take_less_often", "shorten_or_split", "none")
LOCK_KINDS = (
    "Lock",
    "RLock",
    "Condition",
    "Semaphore",
    "BoundedSemaphore",
    "asyncio.Lock",
)


@dataclass(frozen=True, slots=True)
class CodeLine:
    file: str
    line: int
    function: str

    @property
    def place(self) -> str:
        """The file's name and the line, as every output names a line: ``ledger.py:12``."""
        return f"{PurePath(self.file).name}:{self.line}"


@dataclass(frozen=True, slots=True)
class LockWaiter:
    """A thread (or, for ``asyncio.Lock``, a task) that waited for the lock."""

    tid: int | None  # OS thread id; None for an asyncio task
    name: str
    waits: int
    wait_s: float
    wait_max_s: float
    sync_s: float | None  # the thread's sampled `sync` seconds over its observed time


@dataclass(frozen=True, slots=True)
class WaitLine:
    """A line where threads waited for the lock."""

    at: CodeLine
    waits: int
    wait_s: float
    wait_max_s: float


@dataclass(frozen=True, slots=True)
class CriticalSection:
    """A line where the lock was taken, with what its holders made others wait and held.

    ``hold_s`` is exact for contended acquisitions and estimated for the rest from one timed
    acquisition in ``LockReport.sample_every`` (scaled); ``states`` are the sampler's
    thread-seconds inside the block (the ``with`` body) by state, when it was seen there.
    """

    at: CodeLine
    end_line: int | None  # last line of the with block, when the source shows one
    waits_caused: int  # contended acquisitions that found the lock taken here
    wait_caused_s: float
    timed_holds: int
    hold_s: float
    hold_max_s: float
    states: dict[str, float]


@dataclass(frozen=True, slots=True)
class LockProfile:
    """The locks created at one line (``instances`` of them) and everything they did."""

    id: int
    kind: str  # one of LOCK_KINDS
    name: str | None  # what the creating line assigns it to (``Ledger.lock``), when it does
    inside: str | None  # the standard-library class that made it (``queue.Queue``), if any
    created_at: CodeLine
    code: str  # the creating line's source
    instances: int
    acquisitions: int
    contended: int
    wait_s: float  # every contended acquisition's wait until the lock was handed over, exact
    wait_max_s: float
    #: After the hand-over, until the waiter ran: waiting for the GIL and a CPU (not counted
    #: in wait_s; the sampler sees it as gil_wait, or as runnable).
    wake_s: float
    #: The sampler's `sync` seconds of every thread that waited for it, over their observed
    #: time: to compare with wait_s (they include the threads' other lock waits too).
    waiters_sync_s: float | None
    hold_s: float | None  # estimated (see CriticalSection); None when no hold was timed
    hold_max_s: float | None
    timed_holds: int
    notify_waits: int  # Condition/Event/Queue waits for a notify: coordination, not contention
    notify_wait_s: float
    waiting_at_end: int  # threads still waiting when the tables were written
    waiting_threads: int  # threads (or tasks) that waited at least once; `waiters` lists the top
    waiters: list[LockWaiter]
    wait_lines: list[WaitLine]
    critical_sections: list[CriticalSection]
    advice_kind: str  # one of LOCK_ADVICE
    advice: str

    @property
    def display_name(self) -> str:
        """What every output calls the lock: the name its creating line gives it
        (``Ledger.lock``), else its kind (``RLock``)."""
        return self.name or self.kind

    @property
    def table_name(self) -> str:
        """The name in a table row, beside a column for where it was created:
        ``Ledger.lock (RLock) in queue.Queue``; a named plain ``Lock`` is just its name."""
        what = self.display_name
        if self.name and self.kind != "Lock":
            what += f" ({self.kind})"
        if self.inside:
            what += f" in {self.inside}"
        return what

    @property
    def prose_name(self) -> str:
        """The name in a sentence, which has no column for where: ``Ledger.lock
        (ledger.py:12)``, ``Lock (queue.Queue) (work.py:8)``."""
        what = self.display_name
        if self.inside:
            what += f" ({self.inside})"
        return f"{what} ({self.created_at.place})"


@dataclass(frozen=True, slots=True)
class DeadlockEdge:
    """``thread`` waits at ``waiting_at`` for ``lock``, held by ``held_by`` since a line."""

    tid: int | None
    thread: str
    lock_id: int | None  # LockProfile.id, when listed
    lock: str  # the lock's name and creation line
    waiting_at: CodeLine
    waiting_code: str  # the source line where it waits
    waiting_s: float
    held_by_tid: int | None
    held_by: str
    held_since: CodeLine | None
    held_code: str  # the source line where the holder took the lock


@dataclass(frozen=True, slots=True)
class ThreadStack:
    tid: int | None
    name: str
    frames: list[CodeLine]  # outermost first
    state: str | None = None  # attach: the state it was stuck in


@dataclass(frozen=True, slots=True)
class Deadlock:
    """A deadlock: a wait-for cycle the tracker saw, or (attach) threads stuck on locks."""

    confirmed: bool  # a wait-for cycle (launch, lock tracker); False: inferred from samples
    message: str
    lasted_s: float  # how long the cycle (or the stall) had lasted when it was reported
    detected_at_s: float | None  # seconds since the target's code started
    cycle: list[DeadlockEdge]
    stacks: list[ThreadStack]


@dataclass(frozen=True, slots=True)
class LockReport:
    tracked: bool  # the lock tracker ran in the target (launch mode)
    sample_every: int | None  # one uncontended acquisition in this many was timed
    lock_sites: int  # lines that created tracked locks
    wait_s: float  # lock waits (contention) summed over the listed locks
    #: The sampler's `sync` seconds of the threads that waited for tracked locks, to compare
    #: with `wait_s` (they also include waits the tracker does not see).
    waiting_threads_sync_s: float | None
    locks: list[LockProfile]  # contended first, by wait time
    deadlock: Deadlock | None
    notes: list[str] = field(default_factory=list)
