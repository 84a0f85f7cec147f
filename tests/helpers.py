"""Builders for synthetic recordings and profiles used across the unit tests."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

from concdiag.analysis import RunContext, replay_profile
from concdiag.analysis.accounting.result import Accounting
from concdiag.analysis.accounting.streaming import replay
from concdiag.model import Profile
from concdiag.recording.recording import Recording, RecordingDraft
from concdiag.recording.records import (
    CollectorNote,
    StackChange,
    TargetInfo,
    ThreadInfo,
    ThreadObservation,
    Tick,
)
from concdiag.schema import SCHEMA_PATH

PID = 1000
RATE = 100.0
FUTEX = 202
RECV = 45
SLEEP = 230


@dataclass
class Synthetic(RecordingDraft):
    """A recording built by hand in a test: a draft that also holds its ticks and stacks,
    frozen into the `Recording` the analysis reads by `freeze` (or `recording_of`)."""

    ticks: list[Tick] = field(default_factory=list)
    stacks: dict[tuple[int, int], list[StackChange]] = field(default_factory=dict)

    def freeze(
        self,
        ticks: Sequence[Tick] = (),
        stacks: Mapping[tuple[int, int], Sequence[StackChange]] | None = None,
    ) -> Recording:
        return super().freeze(ticks or self.ticks, stacks or self.stacks)


def recording_of(rec: Recording | RecordingDraft) -> Recording:
    return rec.freeze() if isinstance(rec, RecordingDraft) else rec


def account(rec: Recording | RecordingDraft) -> Accounting:
    """The accounting of a recording's ticks, replayed as one chunk."""
    return replay(recording_of(rec))


def target_info(gil_enabled: bool = True) -> TargetInfo:
    return TargetInfo(
        pid=PID,
        executable="/usr/bin/python3",
        version="3.11.7",
        implementation="cpython",
        gil_enabled=gil_enabled,
        free_threaded_build=not gil_enabled,
        switch_interval_s=0.005,
        gil_found=True,
        main_tid=PID,
    )


def synthetic(
    pattern: dict[int, list[str]],
    ticks: int = 200,
    names: dict[int, str] | None = None,
    stacks: dict[int, tuple[tuple[str, str, int], ...]] | None = None,
    gil_enabled: bool = True,
) -> Synthetic:
    """A recording where thread ``tid`` cycles through ``pattern[tid]`` one tick per entry.

    Entries: "H" running with the GIL, "N" running without it, "W" waiting for the GIL,
    "L" blocked on a lock, "I" blocked in recv, "S" sleeping, "-" not alive.
    """
    rec = Synthetic(rate_hz=RATE, target=target_info(gil_enabled))
    for tid in pattern:
        name = (names or {}).get(tid, "MainThread" if tid == PID else f"worker-{tid}")
        rec.threads[(PID, tid)] = ThreadInfo(PID, tid, name, tid, True, tid == PID)
        if stacks and tid in stacks:
            rec.stacks[(PID, tid)] = [StackChange(0.0, stacks[tid])]
    cpu = dict.fromkeys(pattern, 0)
    for i in range(ticks):
        holder = None
        observations = []
        for tid, seq in pattern.items():
            code = seq[i % len(seq)]
            if code == "-":
                continue
            if code == "H":
                holder = tid
            if code in "HN":
                cpu[tid] += 1
            state = "R" if code in "HN" else "S"
            syscall = {"W": FUTEX, "L": FUTEX, "I": RECV, "S": SLEEP}.get(code)
            observations.append(ThreadObservation(tid, state, syscall, code == "W", cpu[tid]))
        rec.ticks.append(
            Tick(
                t_s=i / RATE,
                pid=PID,
                gil_locked=holder is not None,
                gil_holder_tid=holder,
                gil_switches=i // 2,
                process_cpu_ticks=sum(cpu.values()),
                threads=tuple(observations),
            )
        )
    rec.duration_s = ticks / RATE
    return rec


def context(target: str = "script.py") -> RunContext:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return RunContext(
        mode="launch",
        command=["python", target],
        target=target,
        target_file=None,
        cwd="/tmp",
        started_at=now,
        ended_at=now,
        exit_code=0,
        exit_signal=None,
        collectors=[CollectorNote("procfs", True, "test"), CollectorNote("py-spy", True, "test")],
        cpu_count=2,
    )


def profile_of(rec: Recording | RecordingDraft, target: str = "script.py") -> Profile:
    return replay_profile(recording_of(rec), context(target))


def as_child_process(rec: Synthetic, tid: int) -> int:
    """Move thread ``tid`` of a synthetic recording into a process of its own (pid = tid).

    Each tick becomes two: the parent's without the thread, and the child's with it, so one
    pattern describes a process tree. Alone in its process, the thread holds its own GIL
    whenever it runs (a worker running Python code).
    """
    rec.threads.pop((PID, tid))
    rec.threads[(tid, tid)] = ThreadInfo(tid, tid, "MainThread", tid, True, True)
    if (PID, tid) in rec.stacks:
        rec.stacks[(tid, tid)] = rec.stacks.pop((PID, tid))
    ticks = []
    for tick in rec.ticks:
        if tick.pid != PID:
            ticks.append(tick)
            continue
        mine = tuple(o for o in tick.threads if o.tid == tid)
        rest = tuple(o for o in tick.threads if o.tid != tid)
        holds = any(o.proc_state == "R" for o in mine)
        ticks.append(
            Tick(
                tick.t_s,
                PID,
                tick.gil_locked and tick.gil_holder_tid != tid,
                None if tick.gil_holder_tid == tid else tick.gil_holder_tid,
                tick.gil_switches,
                tick.process_cpu_ticks - sum(o.cpu_ticks for o in mine),
                rest,
            )
        )
        ticks.append(
            Tick(
                tick.t_s,
                tid,
                holds,
                tid if holds else None,
                0,
                sum(o.cpu_ticks for o in mine),
                mine,
            )
        )
    rec.ticks = ticks
    return tid


#: The bootstrap, as a target runs it: by path, under whatever Python the target uses.
BOOTSTRAP = Path(__file__).resolve().parents[1] / "src" / "concdiag" / "agent" / "bootstrap.py"


def load_bootstrap() -> ModuleType:
    """The bootstrap loaded by path (its ``main`` does not run), as a test's module."""
    spec = importlib.util.spec_from_file_location("_concdiag_bootstrap_test", BOOTSTRAP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def agent_module(name: str) -> ModuleType:
    """One of the agent's modules (``deep_probe``, ``locks.tracker``...), loaded the way the
    bootstrap loads it in a target: from its folder, without concdiag installed."""
    module: ModuleType = load_bootstrap().agent_module(name)
    return module


def load_schema() -> dict[str, Any]:
    """The profile's JSON Schema as shipped with the package."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


def line_of(script: Path, text: str) -> int:
    """The first line of ``script`` that holds ``text``."""
    return next(i for i, line in enumerate(script.read_text().splitlines(), 1) if text in line)


def check_deadlock_cycle(data: dict[str, Any], script: Path) -> int:
    """The deadlock sample's cycle as the profile ``data`` reports it: both threads, the
    line where each waits, the line where each holder took its lock, and both locks named.
    Returns the line where the threads wait."""
    deadlock = data["locks"]["deadlock"]
    created = line_of(script, "self.lock = threading.Lock()")
    waits = line_of(script, "with target.lock:")
    takes = line_of(script, "with source.lock:")
    edges = {e["thread"]: e for e in deadlock["cycle"]}
    assert set(edges) == {"transfer-a-to-b", "transfer-b-to-a"}
    for name, edge in edges.items():
        assert edge["waiting_at"]["line"] == waits
        assert edge["held_since"]["line"] == takes
        assert edge["held_by"] == next(other for other in edges if other != name)
    assert {e["lock"] for e in edges.values()} == {
        f"Account.lock #1 ({script.name}:{created})",
        f"Account.lock #2 ({script.name}:{created})",
    }
    return waits
