"""The in-process collector's wire format: what each line of its output holds.

The sampler (``sampler.py``, inside the target) writes records with `encode`; concdiag
(``inprocess.py``) reads them back with `decode`. Each line is a compact JSON array, the
record's tag (`RECORD_TYPES`) then its fields in the order declared here; only `encode` and
`decode` know positions. Like the agent, this module runs in the target's Python
(3.10 or later) and uses only the standard library.
"""

from __future__ import annotations

import json
from typing import NamedTuple


class ThreadSample(NamedTuple):
    """One thread in one snapshot."""

    tid: int
    proc_state: str  # the state letter in /proc/self/task/TID/stat: R, S, D, ...
    syscall: int | None  # the blocking system call, None when running or unknown
    futex_on_gil: bool  # blocked on an address inside the GIL's state
    cpu_ticks: int  # utime + stime in clock ticks, cumulative
    cpu_since_tick_ns: int | None  # CPU clock since the thread's last snapshot (0 at its first)
    cpu_in_snapshot_ns: int | None  # CPU clock during this snapshot; both None when unreadable


class SnapshotWindow(NamedTuple):
    """How one snapshot went."""

    elapsed_ns: float  # since the previous tick (0.0 at the first)
    snapshot_ns: float  # how long the sampler held the GIL taking it
    gil_kept: bool  # the GIL did not change hands during it (False when unknown)
    gil_known: bool  # the bootstrap found the GIL's address


class TickRecord(NamedTuple):
    """One snapshot of one process."""

    t_s: float  # time.monotonic() in the target
    pid: int
    gil_locked: None  # this and the next two are always null: concdiag works out the holder
    gil_holder_tid: None
    gil_switches: None
    process_cpu_ticks: int  # utime + stime of the process in clock ticks, cumulative
    observations: list[ThreadSample]
    window: SnapshotWindow


class StackRecord(NamedTuple):
    """A Python thread's stack, written at a tick when it differs from the thread's last."""

    t_s: float  # the tick's time
    pid: int
    tid: int
    frames: list[tuple[str, str, int]]  # (function, file, line), outermost first


class CountersRecord(NamedTuple):
    """The process's counters, every agent COUNTER_EVERY_S and when sampling stops."""

    t_s: float
    pid: int
    ppid: int
    cpu_user_s: float
    cpu_system_s: float
    ctx_voluntary: int
    ctx_involuntary: int
    rss_bytes: int
    num_threads: int


class ThreadCpuRecord(NamedTuple):
    """A thread's name and CPU times, when the collector finishes."""

    pid: int
    tid: int
    name: str
    user_s: float
    system_s: float


class SamplerCostRecord(NamedTuple):
    """What the sampler thread cost, when it stops."""

    pid: int
    cpu_s: float
    late_ticks: int  # ticks skipped because the sampler woke too late


class ProbeRecord(NamedTuple):
    """A batch of GIL-latency probes: how late the agent's PROBE_SLEEP_S sleep woke."""

    pid: int
    probes: int
    late_sum_ms: float
    late_p95_ms: float


AgentRecord = (
    TickRecord | StackRecord | CountersRecord | ThreadCpuRecord | SamplerCostRecord | ProbeRecord
)

#: Each record type by the tag that starts its line.
RECORD_TYPES: dict[str, type[AgentRecord]] = {
    "t": TickRecord,
    "s": StackRecord,
    "c": CountersRecord,
    "tc": ThreadCpuRecord,
    "self": SamplerCostRecord,
    "probe": ProbeRecord,
}
_TAG_OF = {record_type: tag for tag, record_type in RECORD_TYPES.items()}


def encode(record: AgentRecord) -> bytes:
    """One line: the record's tag, then its fields (a NamedTuple is written as an array)."""
    line = json.dumps([_TAG_OF[type(record)], *record], separators=(",", ":")) + "\n"
    return line.encode("utf-8", "replace")


def decode(line: bytes) -> AgentRecord | None:
    """The record on one line; None for a line a killed target cut short, or an unknown tag."""
    try:
        tag, *fields = json.loads(line)
    except ValueError:
        return None
    record_type = RECORD_TYPES.get(tag)
    if record_type is None:
        return None
    record = record_type(*fields)
    if isinstance(record, TickRecord):
        samples = [ThreadSample(*sample) for sample in record.observations]
        return record._replace(observations=samples, window=SnapshotWindow(*record.window))
    if isinstance(record, StackRecord):
        frames = [
            (str(function), str(file), int(lineno)) for function, file, lineno in record.frames
        ]
        return record._replace(frames=frames)
    return record
