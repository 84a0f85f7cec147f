"""The lock tracker's tables, as records: lock sites, their waits and holds, a deadlock.

The tracker (``agent/locks/``) writes them as JSON inside the target; `LockTables.from_dict`
reads that layout (and `to_dict`'s, as saved in a recording).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Line = tuple[str, int, str]  # file, line, function


@dataclass(frozen=True, slots=True)
class WaiterRecord:
    """One thread (or asyncio task) that waited for a lock site's locks."""

    ident: int
    native_id: int | None
    name: str
    waits: int
    wait_s: float
    wait_max_s: float


@dataclass(frozen=True, slots=True)
class LineWaits:
    """A line with waits at it: where threads waited, or where the holder had taken the lock."""

    at: Line
    waits: int
    wait_s: float
    wait_max_s: float | None  # None for holder lines (the wait is the waiter's)


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """A line where the lock was taken, with its timed holds (seconds scaled to every hold)."""

    at: Line
    timed: int
    hold_s: float
    hold_max_s: float


@dataclass(frozen=True, slots=True)
class LockSiteRecord:
    """Everything the locks created at one line did."""

    kind: str  # Lock, RLock, Condition, Semaphore, BoundedSemaphore, asyncio.Lock
    inside: str | None  # the standard-library class that created it (queue.Queue...)
    created_at: Line
    instances: int
    acquisitions: int
    contended: int
    waiting_now: int
    wait_s: float
    wait_max_s: float
    wake_s: float  # after the lock was handed over, until the thread ran (GIL, CPU)
    timed_holds: int
    hold_s: float
    hold_max_s: float
    notify_waits: int
    notify_wait_s: float
    waiters: tuple[WaiterRecord, ...]
    wait_sites: tuple[LineWaits, ...]
    holder_sites: tuple[LineWaits, ...]
    hold_sites: tuple[HoldRecord, ...]


@dataclass(frozen=True, slots=True)
class ThreadRef:
    ident: int
    native_id: int | None
    name: str


@dataclass(frozen=True, slots=True)
class CycleEdge:
    """In a deadlock: ``thread`` waits at ``waiting_at`` for a lock ``held_by`` another."""

    thread: ThreadRef
    lock_created_at: tuple[str, int]
    lock_instance: int
    waiting_at: Line
    waiting_s: float
    held_by: ThreadRef
    held_since: Line | None  # where the holder took the lock


@dataclass(frozen=True, slots=True)
class ThreadStack:
    thread: ThreadRef
    frames: tuple[Line, ...]  # outermost first


@dataclass(frozen=True, slots=True)
class DeadlockRecord:
    cycle: tuple[CycleEdge, ...]
    formed_s: float  # since the tracker started
    detected_s: float
    deadlock_after_s: float
    stacks: tuple[ThreadStack, ...]


@dataclass(frozen=True, slots=True)
class LockTables:
    pid: int
    python: str
    sample_every: int
    deadlock_after_s: float | None
    duration_s: float
    sites_total: int
    sites: tuple[LockSiteRecord, ...]
    deadlock: DeadlockRecord | None

    def to_dict(self) -> dict[str, Any]:
        return {"format": "concdiag-locks-records", "tables": _plain(self)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LockTables:
        """Read the tracker's JSON (or `to_dict`'s); raises ValueError when malformed."""
        if data.get("format") == "concdiag-locks-records":
            data = data["tables"]
        elif data.get("format") != "concdiag-locks":
            raise ValueError("not a concdiag lock table")
        if data.get("error"):
            raise ValueError(str(data["error"]))
        try:
            return _tables(data)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"malformed lock table: {exc!r}") from exc


def _line(raw: Any) -> Line:
    return (str(raw[0]), int(raw[1]), str(raw[2]))


def _thread(raw: dict[str, Any]) -> ThreadRef:
    native = raw.get("native_id")
    return ThreadRef(int(raw["ident"]), None if native is None else int(native), str(raw["name"]))


def _site(raw: dict[str, Any]) -> LockSiteRecord:
    return LockSiteRecord(
        kind=str(raw["kind"]),
        inside=None if raw.get("inside") is None else str(raw["inside"]),
        created_at=(str(raw["file"]), int(raw["line"]), str(raw["function"])),
        instances=int(raw["instances"]),
        acquisitions=int(raw["acquisitions"]),
        contended=int(raw["contended"]),
        waiting_now=int(raw.get("waiting_now", 0)),
        wait_s=float(raw["wait_s"]),
        wait_max_s=float(raw["wait_max_s"]),
        wake_s=float(raw.get("wake_s", 0.0)),
        timed_holds=int(raw["timed_holds"]),
        hold_s=float(raw["hold_s"]),
        hold_max_s=float(raw["hold_max_s"]),
        notify_waits=int(raw["notify_waits"]),
        notify_wait_s=float(raw["notify_wait_s"]),
        waiters=tuple(
            WaiterRecord(
                int(w[0]),
                None if w[1] is None else int(w[1]),
                str(w[2]),
                int(w[3]),
                float(w[4]),
                float(w[5]),
            )
            for w in raw["waiters"]
        ),
        wait_sites=tuple(
            LineWaits(_line(w), int(w[3]), float(w[4]), float(w[5])) for w in raw["wait_sites"]
        ),
        holder_sites=tuple(
            LineWaits(_line(w), int(w[3]), float(w[4]), None) for w in raw["holder_sites"]
        ),
        hold_sites=tuple(
            HoldRecord(_line(h), int(h[3]), float(h[4]), float(h[5])) for h in raw["hold_sites"]
        ),
    )


def _deadlock(raw: dict[str, Any]) -> DeadlockRecord:
    return DeadlockRecord(
        cycle=tuple(
            CycleEdge(
                thread=_thread(e["thread"]),
                lock_created_at=(str(e["lock"]["file"]), int(e["lock"]["line"])),
                lock_instance=int(e["lock"]["instance"]),
                waiting_at=_line(e["waiting_at"]),
                waiting_s=float(e["waiting_s"]),
                held_by=_thread(e["held_by"]),
                held_since=_line(e["held_since"]) if e.get("held_since") else None,
            )
            for e in raw["cycle"]
        ),
        formed_s=float(raw["formed_s"]),
        detected_s=float(raw["detected_s"]),
        deadlock_after_s=float(raw["deadlock_after_s"]),
        stacks=tuple(
            ThreadStack(_thread(s), tuple(_line(f) for f in s["frames"])) for s in raw["stacks"]
        ),
    )


def _tables(data: dict[str, Any]) -> LockTables:
    after = data.get("deadlock_after_s")
    return LockTables(
        pid=int(data["pid"]),
        python=str(data.get("python", "")),
        sample_every=int(data["sample_every"]),
        deadlock_after_s=None if after is None else float(after),
        duration_s=float(data.get("duration_s", 0.0)),
        sites_total=int(data.get("sites_total", len(data["sites"]))),
        sites=tuple(_site(s) for s in data["sites"]),
        deadlock=_deadlock(data["deadlock"]) if data.get("deadlock") else None,
    )


def _plain(value: Any) -> Any:
    """Records back to the tracker's JSON layout, so `from_dict` reads both."""
    if isinstance(value, LockTables):
        return {
            "format": "concdiag-locks",
            "pid": value.pid,
            "python": value.python,
            "sample_every": value.sample_every,
            "deadlock_after_s": value.deadlock_after_s,
            "duration_s": value.duration_s,
            "sites_total": value.sites_total,
            "sites": [_plain(s) for s in value.sites],
            "deadlock": _plain(value.deadlock) if value.deadlock else None,
        }
    if isinstance(value, LockSiteRecord):
        return {
            "kind": value.kind,
            "inside": value.inside,
            "file": value.created_at[0],
            "line": value.created_at[1],
            "function": value.created_at[2],
            "instances": value.instances,
            "acquisitions": value.acquisitions,
            "contended": value.contended,
            "waiting_now": value.waiting_now,
            "wait_s": value.wait_s,
            "wait_max_s": value.wait_max_s,
            "wake_s": value.wake_s,
            "timed_holds": value.timed_holds,
            "hold_s": value.hold_s,
            "hold_max_s": value.hold_max_s,
            "notify_waits": value.notify_waits,
            "notify_wait_s": value.notify_wait_s,
            "waiters": [
                [w.ident, w.native_id, w.name, w.waits, w.wait_s, w.wait_max_s]
                for w in value.waiters
            ],
            "wait_sites": [[*w.at, w.waits, w.wait_s, w.wait_max_s] for w in value.wait_sites],
            "holder_sites": [[*w.at, w.waits, w.wait_s] for w in value.holder_sites],
            "hold_sites": [[*h.at, h.timed, h.hold_s, h.hold_max_s] for h in value.hold_sites],
        }
    if isinstance(value, DeadlockRecord):
        return {
            "cycle": [
                {
                    "thread": _plain(e.thread),
                    "lock": {
                        "file": e.lock_created_at[0],
                        "line": e.lock_created_at[1],
                        "instance": e.lock_instance,
                    },
                    "waiting_at": list(e.waiting_at),
                    "waiting_s": e.waiting_s,
                    "held_by": _plain(e.held_by),
                    "held_since": list(e.held_since) if e.held_since else None,
                }
                for e in value.cycle
            ],
            "formed_s": value.formed_s,
            "detected_s": value.detected_s,
            "deadlock_after_s": value.deadlock_after_s,
            "stacks": [
                {**_plain(s.thread), "frames": [list(f) for f in s.frames]} for s in value.stacks
            ],
        }
    if isinstance(value, ThreadRef):
        return {"ident": value.ident, "native_id": value.native_id, "name": value.name}
    raise TypeError(f"not a lock record: {type(value).__name__}")
