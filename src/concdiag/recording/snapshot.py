"""What `concdiag dump` reads of a process at one instant: the record its collector produces
(`collectors.snapshot`) and its analysis consumes (`analysis.snapshot`).

Each thread's Python stack and locals come from py-spy's own dump (it pauses the process while
it reads, so the stacks are of one instant); its scheduler state and blocking system call
from ``/proc``; what a blocked descriptor is from its link and the kernel's socket tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LocalRef:
    """A local variable of a frame: its name and where the object lives (py-spy's address)."""

    name: str
    address: int
    repr: str


@dataclass(frozen=True, slots=True)
class FrameSnapshot:
    function: str
    file: str
    line: int
    locals: tuple[LocalRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An open file descriptor a thread is blocked on."""

    fd: int
    kind: str  # socket, pipe, file, anon (eventfd, epoll...), or unknown
    target: str  # the link's text: a path, "socket:[123]", ...
    local: str | None = None  # a TCP/UDP socket's addresses and state, when the kernel lists it
    remote: str | None = None
    tcp_state: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadSnapshot:
    tid: int
    name: str
    owns_gil: bool
    proc_state: str  # R, S, D, ... (the state letter of /proc/PID/task/TID/stat)
    syscall: int | None  # the blocking call's number, None when running
    #: What kind of wait that call is, by this machine's call table: ``futex``, ``sleep``,
    #: ``fd`` (read, recv, accept...), ``poll``, ``select``, ``epoll``, ``child``, or None.
    call_kind: str | None
    futex_on_gil: bool
    frames: tuple[FrameSnapshot, ...]  # innermost first, as py-spy gives them
    descriptors: tuple[Descriptor, ...] = ()  # what a blocking read/poll waits on


@dataclass(frozen=True, slots=True)
class ProcessSnapshot:
    pid: int
    ppid: int | None
    command: tuple[str, ...]
    python: str  # the interpreter's version, as attach read it
    gil_found: bool  # whether a thread's futex could be told to be the GIL's
    threads: tuple[ThreadSnapshot, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
