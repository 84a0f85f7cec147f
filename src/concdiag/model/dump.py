"""`concdiag dump`'s document: every thread of a process at one instant, what it is doing,
which locks its code is inside and waits for, and a deadlock when those form a cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from concdiag.model import Frame
from concdiag.model.codec import to_jsonable

DUMP_SCHEMA = "concdiag-dump"
DUMP_VERSION = 1

#: What a thread is doing now, in the profile's state words where one fits:
#: ``gil_held`` running Python (or blocked while it holds the GIL), ``gil_wait``,
#: ``native`` running without the GIL (or waiting for a CPU), ``io`` blocked on a descriptor,
#: ``sync`` blocked on a lock or condition, ``sleep``, ``child`` waiting for a child process,
#: ``waiting`` in another blocking call.
DUMP_STATES = ("gil_held", "gil_wait", "native", "io", "sync", "sleep", "child", "waiting")


@dataclass(frozen=True, slots=True)
class LockUse:
    """A lock (any context manager, or an ``.acquire()``) as the code names it at a line."""

    expression: str  # "target.lock", as written
    identity: str  # the object it resolves to: "<Account at 0x7f...>.lock", or the expression
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class ThreadDump:
    pid: int
    tid: int
    name: str
    state: str  # one of DUMP_STATES
    doing: str  # the state in words, with the descriptor, call or lock
    frames: list[Frame]  # outermost first
    waits_for: LockUse | None = None
    inside: list[LockUse] = field(default_factory=list)  # the `with` blocks it is inside


@dataclass(frozen=True, slots=True)
class ProcessDump:
    pid: int
    ppid: int | None
    command: list[str]
    python: str
    gil_holder: str | None  # the thread holding the GIL now, by name
    threads: list[ThreadDump]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DumpEdge:
    pid: int
    thread: str
    waits_at: str  # file:line
    lock: str  # the expression, and the object it is
    held_by: str
    held_since: str  # file:line of the `with` the holder is inside


@dataclass(frozen=True, slots=True)
class Dump:
    taken_at: str
    processes: list[ProcessDump]
    deadlock: list[DumpEdge] | None  # the cycle, when the waits seen form one
    schema: str = DUMP_SCHEMA
    schema_version: int = DUMP_VERSION

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)  # type: ignore[no-any-return]
