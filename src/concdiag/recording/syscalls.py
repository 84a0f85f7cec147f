"""The system call numbers the analysis reads waits by, per architecture.

A thread's blocking system call is recorded as a number, and the numbers differ between
architectures (``futex`` is 202 on x86_64, 98 on aarch64). The recording therefore carries the
table it was made with, and the analysis reads waits through that table, never through the
machine that replays it. Numbers from the kernel's ``arch/*/entry/syscalls`` tables
(``asm-generic/unistd.h`` for aarch64).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SyscallTable:
    """The blocking calls that name a kind of wait, for one architecture."""

    machine: str
    #: futex and futex_waitv: locks, conditions, and the GIL (when the address is the GIL's).
    futex: frozenset[int]
    #: nanosleep and clock_nanosleep: the program chose to wait.
    sleep: frozenset[int]
    #: flock and fcntl (F_SETLKW): waiting for a file lock, i.e. synchronisation.
    file_lock: frozenset[int]
    #: epoll_wait, epoll_pwait and epoll_pwait2: where an event loop (asyncio's selector on
    #: Linux, libuv's) waits for its next event, idle.
    event_wait: frozenset[int] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "futex": sorted(self.futex),
            "sleep": sorted(self.sleep),
            "file_lock": sorted(self.file_lock),
            "event_wait": sorted(self.event_wait),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> SyscallTable:
        return SyscallTable(
            machine=str(data["machine"]),
            futex=frozenset(int(n) for n in data["futex"]),
            sleep=frozenset(int(n) for n in data["sleep"]),
            file_lock=frozenset(int(n) for n in data["file_lock"]),
            # recordings made before it was recorded: the machine's own numbers
            event_wait=frozenset(
                int(n) for n in data.get("event_wait", for_machine(str(data["machine"])).event_wait)
            ),
        )


X86_64 = SyscallTable(
    machine="x86_64",
    futex=frozenset({202, 449}),
    sleep=frozenset({35, 230}),
    file_lock=frozenset({72, 73}),
    event_wait=frozenset({232, 281, 441}),
)
AARCH64 = SyscallTable(
    machine="aarch64",
    futex=frozenset({98, 449}),
    sleep=frozenset({101, 115}),
    file_lock=frozenset({25, 32}),
    event_wait=frozenset({22, 441}),
)
TABLES = {"x86_64": X86_64, "amd64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}


def for_machine(machine: str) -> SyscallTable:
    """The table of ``machine``; an unknown one gets empty sets (every wait reads as I/O)."""
    known = TABLES.get(machine.lower())
    if known is not None:
        return known
    return SyscallTable(machine, frozenset(), frozenset(), frozenset())


#: This machine's table: what the live collectors record with.
HOST = for_machine(platform.machine())
