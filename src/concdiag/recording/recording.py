"""Everything one run gathered: the target, its threads and processes, their ticks.

A `Recording` can be saved and read back (tests/data holds recorded runs), so the analysis is
tested deterministically on real observations.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from concdiag.fileio import write_atomic
from concdiag.recording.locks import LockTables
from concdiag.recording.records import (
    ProcessCounters,
    StackChange,
    TargetInfo,
    ThreadCpu,
    ThreadInfo,
    ThreadObservation,
    Tick,
)
from concdiag.recording.shipping import PoolShipping
from concdiag.recording.syscalls import HOST, X86_64, SyscallTable
from concdiag.recording.yappi import YappiRun

#: Version 2 added what a recording needs to be read anywhere: the architecture's system call
#: table, the kernel's clock tick and the platform. Version 1 recordings were all made on
#: x86_64 Linux with a 100 Hz clock tick, which `Recording.load` assumes for them. Version 3
#: added each thread's scheduler clocks (``/proc/<pid>/task/<tid>/schedstat``) to its
#: observations; older observations load with them unknown (None). Version 4 added whether a
#: blocked thread waited on the traced tree itself (``ipc``), unknown in older observations.
RECORDING_VERSION = 4


ThreadKey = tuple[int, int]  # (pid, tid)


def _this_clock_tick() -> int:
    return os.sysconf("SC_CLK_TCK")


def _this_platform() -> str:
    return f"{platform.system()} {platform.release()} {platform.machine()}"


class RunSoFar(Protocol):
    """What the accounting reads while ticks stream in: how to read them, and the threads
    known so far. A `RecordingDraft` (live) and a `Recording` (replayed) both answer it."""

    @property
    def rate_hz(self) -> float: ...
    @property
    def target(self) -> TargetInfo: ...
    @property
    def threads(self) -> Mapping[ThreadKey, ThreadInfo]: ...
    @property
    def syscalls(self) -> SyscallTable: ...
    @property
    def clock_ticks_hz(self) -> int: ...
    @property
    def start_s(self) -> float: ...


@dataclass
class RecordingDraft:
    """What a run has gathered so far, while collectors still add to it.

    Ticks are not kept here: collectors hand them to the accounting as chunks. The rate is
    settled once the target runs (the in-process sampler's is the one it achieved), the
    target's GIL state once it says so. `freeze` makes the `Recording` the analysis reads.
    """

    rate_hz: float
    target: TargetInfo
    threads: dict[ThreadKey, ThreadInfo] = field(default_factory=dict)
    counters: list[ProcessCounters] = field(default_factory=list)
    commands: dict[int, list[str]] = field(default_factory=dict)
    thread_cpu: dict[ThreadKey, ThreadCpu] = field(default_factory=dict)
    errors: int = 0
    late_ticks: int = 0
    duration_s: float = 0.0
    sampler_cpu_s: float = 0.0
    start_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    yappi: YappiRun | None = None
    locks: LockTables | None = None
    shipping: tuple[PoolShipping, ...] = ()
    serving_pids: tuple[int, ...] = ()
    syscalls: SyscallTable = HOST
    clock_ticks_hz: int = field(default_factory=_this_clock_tick)
    platform: str = field(default_factory=_this_platform)

    def freeze(
        self,
        ticks: Sequence[Tick] = (),
        stacks: Mapping[ThreadKey, Sequence[StackChange]] | None = None,
    ) -> Recording:
        """The run as a `Recording`, with ``ticks`` and ``stacks`` not yet accounted (none in
        a live run whose accounting kept up; all of them for a recording built by hand)."""
        return Recording(
            rate_hz=self.rate_hz,
            target=self.target,
            ticks=tuple(ticks),
            threads=dict(self.threads),
            counters=tuple(self.counters),
            commands={pid: tuple(argv) for pid, argv in self.commands.items()},
            thread_cpu=dict(self.thread_cpu),
            stacks={key: tuple(changes) for key, changes in (stacks or {}).items()},
            errors=self.errors,
            late_ticks=self.late_ticks,
            duration_s=self.duration_s,
            sampler_cpu_s=self.sampler_cpu_s,
            start_s=self.start_s,
            notes=tuple(self.notes),
            yappi=self.yappi,
            locks=self.locks,
            shipping=self.shipping,
            serving_pids=self.serving_pids,
            syscalls=self.syscalls,
            clock_ticks_hz=self.clock_ticks_hz,
            platform=self.platform,
        )


@dataclass(frozen=True, slots=True)
class Recording:
    """Everything gathered in one run, read-only.

    ``ticks`` and ``stacks`` are those the accounting has not seen: a saved recording carries
    them all and is replayed through the same streaming accounting; a live run carries none
    (they were accounted chunk by chunk), unless accounting failed and they were kept raw.
    """

    rate_hz: float
    target: TargetInfo
    ticks: Sequence[Tick] = ()
    threads: Mapping[ThreadKey, ThreadInfo] = field(default_factory=dict)
    counters: Sequence[ProcessCounters] = ()
    commands: Mapping[int, Sequence[str]] = field(default_factory=dict)
    thread_cpu: Mapping[ThreadKey, ThreadCpu] = field(default_factory=dict)
    stacks: Mapping[ThreadKey, Sequence[StackChange]] = field(default_factory=dict)
    errors: int = 0
    late_ticks: int = 0
    duration_s: float = 0.0
    sampler_cpu_s: float = 0.0
    start_s: float = 0.0  # when the target's own code began (ticks before are start-up)
    notes: Sequence[str] = ()
    yappi: YappiRun | None = None  # deep mode's tables from inside the target
    locks: LockTables | None = None  # the lock tracker's tables from inside the target
    #: What each thread pool's tasks would cost to pickle for a process pool (from inside the
    #: target; none when no thread pool ran or nothing ran inside it).
    shipping: Sequence[PoolShipping] = ()
    #: Processes of the tree seen holding the accepted end of a connection another process
    #: of the tree waited on: servers the program runs.
    serving_pids: Sequence[int] = ()
    #: How to read the observations: the recording machine's system call numbers, the unit
    #: of ``cpu_ticks`` (USER_HZ), and the platform. Defaults describe this machine, which is
    #: right for live collection; loaded recordings bring their own.
    syscalls: SyscallTable = HOST
    clock_ticks_hz: int = field(default_factory=_this_clock_tick)
    platform: str = field(default_factory=_this_platform)

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "concdiag-recording",
            "version": RECORDING_VERSION,
            "rate_hz": self.rate_hz,
            "syscalls": self.syscalls.to_dict(),
            "clock_ticks_hz": self.clock_ticks_hz,
            "platform": self.platform,
            "target": vars_of(self.target),
            "ticks": [
                [
                    round(t.t_s, 6),
                    t.pid,
                    t.gil_locked,
                    t.gil_holder_tid,
                    t.gil_switches,
                    t.process_cpu_ticks,
                    [_observation_row(o) for o in t.threads],
                ]
                for t in self.ticks
            ],
            "threads": [vars_of(i) for i in self.threads.values()],
            "counters": [vars_of(c) for c in self.counters],
            "commands": {str(k): list(v) for k, v in self.commands.items()},
            "thread_cpu": [vars_of(c) for c in self.thread_cpu.values()],
            "stacks": [
                {
                    "pid": pid,
                    "tid": tid,
                    "changes": [[round(c.t_s, 6), [list(f) for f in c.frames]] for c in changes],
                }
                for (pid, tid), changes in self.stacks.items()
            ],
            "errors": self.errors,
            "late_ticks": self.late_ticks,
            "duration_s": self.duration_s,
            "sampler_cpu_s": self.sampler_cpu_s,
            "start_s": self.start_s,
            "notes": list(self.notes),
            "yappi": self.yappi.to_dict() if self.yappi is not None else None,
            "locks": self.locks.to_dict() if self.locks is not None else None,
            "shipping": [pool.to_dict() for pool in self.shipping],
            "serving_pids": list(self.serving_pids),
        }

    @staticmethod
    def load(path: Path) -> Recording:
        return Recording.from_dict(json.loads(path.read_text()))

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Recording:
        draft = RecordingDraft(rate_hz=data["rate_hz"], target=TargetInfo(**data["target"]))
        if "syscalls" in data:
            draft.syscalls = SyscallTable.from_dict(data["syscalls"])
            draft.clock_ticks_hz = int(data["clock_ticks_hz"])
            draft.platform = str(data.get("platform", ""))
        else:  # version 1: made on x86_64 Linux, USER_HZ 100 (see RECORDING_VERSION)
            draft.syscalls = X86_64
            draft.clock_ticks_hz = 100
            draft.platform = "Linux x86_64 (version 1 recording)"
        ticks = []
        for t_s, pid, locked, holder, switches, pticks, threads in data["ticks"]:
            # five fields up to version 2; seven with the 3.15 GIL flags, ten with the clocks,
            # eleven with the IPC judgement
            obs = tuple(ThreadObservation(*o) for o in threads)
            ticks.append(Tick(t_s, pid, locked, holder, switches, pticks, obs))
        for item in data["threads"]:
            info = ThreadInfo(**item)
            draft.threads[(info.pid, info.tid)] = info
        draft.counters = [ProcessCounters(**c) for c in data["counters"]]
        draft.commands = {int(k): v for k, v in data["commands"].items()}
        for item in data["thread_cpu"]:
            cpu = ThreadCpu(**item)
            draft.thread_cpu[(cpu.pid, cpu.tid)] = cpu
        stacks = {
            (item["pid"], item["tid"]): [
                StackChange(t, tuple((f[0], f[1], int(f[2])) for f in frames))
                for t, frames in item["changes"]
            ]
            for item in data["stacks"]
        }
        draft.errors = data["errors"]
        draft.late_ticks = data["late_ticks"]
        draft.duration_s = data["duration_s"]
        draft.sampler_cpu_s = data["sampler_cpu_s"]
        draft.start_s = float(data.get("start_s", 0.0))
        draft.notes = list(data["notes"])
        if data.get("yappi"):
            draft.yappi = YappiRun.from_dict(data["yappi"])
        if data.get("locks"):
            draft.locks = LockTables.from_dict(data["locks"])
        draft.shipping = tuple(PoolShipping.from_dict(p) for p in data.get("shipping") or ())
        draft.serving_pids = tuple(int(p) for p in data.get("serving_pids") or ())
        return draft.freeze(ticks, stacks)


def _observation_row(o: ThreadObservation) -> list[Any]:
    """Five fields; then the two 3.15 GIL flags, the three scheduler clocks and the IPC
    judgement, each only where it or a later one was read (null where it was not)."""
    row: list[Any] = [o.tid, o.proc_state, o.syscall, o.futex_on_gil, o.cpu_ticks]
    later = o.ipc is not None
    if o.holds_gil is not None or o.gil_requested is not None or o.run_ns is not None or later:
        row += [o.holds_gil, o.gil_requested]
    if o.run_ns is not None or later:
        row += [o.run_ns, o.run_delay_ns, o.timeslices]
    if later:
        row.append(o.ipc)
    return row


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
