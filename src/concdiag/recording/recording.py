"""Everything one run gathered: the target, its threads and processes, their ticks.

A `Recording` can be saved and read back (tests/data holds recorded runs), so the analysis is
tested deterministically on real observations.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from concdiag.recording.syscalls import HOST, X86_64, SyscallTable
from concdiag.recording.yappi import YappiRun

#: Version 2 added what a recording needs to be read anywhere: the architecture's system call
#: table, the kernel's clock tick and the platform. Version 1 recordings were all made on
#: x86_64 Linux with a 100 Hz clock tick, which `Recording.load` assumes for them. Version 3
#: added each thread's scheduler clocks (``/proc/<pid>/task/<tid>/schedstat``) to its
#: observations; older observations load with them unknown (None).
RECORDING_VERSION = 3


@dataclass
class Recording:
    """Everything gathered in one run. Mutable while collecting; treated as read-only after."""

    rate_hz: float
    target: TargetInfo
    ticks: list[Tick] = field(default_factory=list)
    threads: dict[tuple[int, int], ThreadInfo] = field(default_factory=dict)
    counters: list[ProcessCounters] = field(default_factory=list)
    commands: dict[int, list[str]] = field(default_factory=dict)
    thread_cpu: dict[tuple[int, int], ThreadCpu] = field(default_factory=dict)
    stacks: dict[tuple[int, int], list[StackChange]] = field(default_factory=dict)
    errors: int = 0
    late_ticks: int = 0
    duration_s: float = 0.0
    sampler_cpu_s: float = 0.0
    start_s: float = 0.0  # when the target's own code began (ticks before are start-up)
    notes: list[str] = field(default_factory=list)
    yappi: YappiRun | None = None  # deep mode's tables from inside the target
    locks: LockTables | None = None  # the lock tracker's tables from inside the target
    #: How to read the observations: the recording machine's system call numbers, the unit
    #: of ``cpu_ticks`` (USER_HZ), and the platform. Defaults describe this machine, which is
    #: right for live collection; loaded recordings bring their own.
    syscalls: SyscallTable = HOST
    clock_ticks_hz: int = field(default_factory=lambda: os.sysconf("SC_CLK_TCK"))
    platform: str = field(
        default_factory=lambda: f"{platform.system()} {platform.release()} {platform.machine()}"
    )

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
            "commands": {str(k): v for k, v in self.commands.items()},
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
            "notes": self.notes,
            "yappi": self.yappi.to_dict() if self.yappi is not None else None,
            "locks": self.locks.to_dict() if self.locks is not None else None,
        }

    @staticmethod
    def load(path: Path) -> Recording:
        return Recording.from_dict(json.loads(path.read_text()))

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Recording:
        rec = Recording(rate_hz=data["rate_hz"], target=TargetInfo(**data["target"]))
        if "syscalls" in data:
            rec.syscalls = SyscallTable.from_dict(data["syscalls"])
            rec.clock_ticks_hz = int(data["clock_ticks_hz"])
            rec.platform = str(data.get("platform", ""))
        else:  # version 1: made on x86_64 Linux, USER_HZ 100 (see RECORDING_VERSION)
            rec.syscalls = X86_64
            rec.clock_ticks_hz = 100
            rec.platform = "Linux x86_64 (version 1 recording)"
        for t_s, pid, locked, holder, switches, pticks, threads in data["ticks"]:
            # five fields up to version 2; seven with the 3.15 GIL flags, ten with the clocks
            obs = tuple(ThreadObservation(*o) for o in threads)
            rec.ticks.append(Tick(t_s, pid, locked, holder, switches, pticks, obs))
        for item in data["threads"]:
            info = ThreadInfo(**item)
            rec.threads[(info.pid, info.tid)] = info
        rec.counters = [ProcessCounters(**c) for c in data["counters"]]
        rec.commands = {int(k): v for k, v in data["commands"].items()}
        for item in data["thread_cpu"]:
            cpu = ThreadCpu(**item)
            rec.thread_cpu[(cpu.pid, cpu.tid)] = cpu
        for item in data["stacks"]:
            rec.stacks[(item["pid"], item["tid"])] = [
                StackChange(t, tuple((f[0], f[1], int(f[2])) for f in frames))
                for t, frames in item["changes"]
            ]
        rec.errors = data["errors"]
        rec.late_ticks = data["late_ticks"]
        rec.duration_s = data["duration_s"]
        rec.sampler_cpu_s = data["sampler_cpu_s"]
        rec.start_s = float(data.get("start_s", 0.0))
        rec.notes = list(data["notes"])
        if data.get("yappi"):
            rec.yappi = YappiRun.from_dict(data["yappi"])
        if data.get("locks"):
            rec.locks = LockTables.from_dict(data["locks"])
        return rec


def _observation_row(o: ThreadObservation) -> list[Any]:
    """Five fields; the two 3.15 GIL flags, and after them the three scheduler clocks, only
    where they were read (the flags as null when only the clocks were)."""
    row: list[Any] = [o.tid, o.proc_state, o.syscall, o.futex_on_gil, o.cpu_ticks]
    if o.holds_gil is not None or o.gil_requested is not None or o.run_ns is not None:
        row += [o.holds_gil, o.gil_requested]
    if o.run_ns is not None:
        row += [o.run_ns, o.run_delay_ns, o.timeslices]
    return row


def vars_of(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}
