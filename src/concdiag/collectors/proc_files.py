"""The /proc files the state sampler keeps open for each process and thread, and how they
are read: each is opened once and re-read with ``pread`` at offset 0 (the kernel generates
the text again), so a tick costs one system call per file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from concdiag.collectors.gil_layout import GIL_STATE_SPAN, GilLocation, read_head
from concdiag.recording.syscalls import HOST


def parse_stat(text: str) -> tuple[str, int, int]:
    """State letter, utime and stime ticks from a /proc stat line (the name may hold spaces)."""
    # Only the first 13 fields after the name are needed: do not split all 50.
    rest = text[text.rindex(")") + 2 :].split(None, 13)
    return rest[0], int(rest[11]), int(rest[12])


def parse_process_stat(text: str) -> tuple[int, int, int]:
    """utime and stime ticks and the number of threads from a process's /proc stat line."""
    rest = text[text.rindex(")") + 2 :].split(None, 18)
    return int(rest[11]), int(rest[12]), int(rest[17])


def parse_syscall(text: str, gil_address: int | None) -> tuple[int | None, bool]:
    """The blocking system call number and whether it is a futex on the GIL state."""
    parts = text.split(None, 2)
    if not parts or parts[0] == "running":
        return None, False
    number = int(parts[0])
    if number < 0:
        return None, False
    on_gil = False
    # A thread parked for the GIL waits in futex on the GIL state.
    if number in HOST.futex and gil_address is not None and len(parts) > 1:
        address = int(parts[1], 16)
        on_gil = gil_address <= address < gil_address + GIL_STATE_SPAN
    return number, on_gil


def parse_schedstat(text: str) -> tuple[int, int, int]:
    """Run time (ns), run-queue delay (ns) and timeslices from a /proc schedstat line."""
    run_ns, delay_ns, slices = text.split(None, 3)[:3]
    return int(run_ns), int(delay_ns), int(slices)


def open_optional(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


class ThreadFiles:
    """One thread's /proc files, kept open, and what the last tick saw of it."""

    __slots__ = ("blocked", "judged_at", "schedstat_fd", "stat_fd", "syscall_fd", "wait_args")

    def __init__(self, base: str, schedstat: bool) -> None:
        #: when last seen blocked: its CPU clock (ns) and timeslice count, the system call,
        #: whether it was a futex on the GIL, and whether it waited on the tree itself
        self.blocked: tuple[int, int | None, int | None, bool, bool | None] | None = None
        #: the blocking call's arguments, and when its wait was last judged (monotonic s, and
        #: the sampler's count of processes joined then)
        self.wait_args: list[int] = []
        self.judged_at = (0.0, 0)
        self.stat_fd = os.open(f"{base}/stat", os.O_RDONLY)
        self.syscall_fd = open_optional(f"{base}/syscall")
        # absent on kernels built without CONFIG_SCHED_INFO: states then use stat's CPU ticks
        self.schedstat_fd = open_optional(f"{base}/schedstat") if schedstat else None

    def close(self) -> None:
        for fd in (self.stat_fd, self.syscall_fd, self.schedstat_fd):
            if fd is not None:
                os.close(fd)


@dataclass
class ProcessFiles:
    """One followed process: its files, its GIL location, its threads' files."""

    pid: int
    gil: GilLocation | None
    mem_fd: int | None
    stat_fd: int
    threads: dict[int, ThreadFiles] = field(default_factory=dict)
    holder_cache: dict[int, int] = field(default_factory=dict)

    def close(self) -> None:
        for files in self.threads.values():
            files.close()
        self.threads.clear()
        for fd in (self.mem_fd, self.stat_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


def open_gil(pid: int, gil: GilLocation | None) -> tuple[GilLocation | None, int | None]:
    """The process's memory, opened, and ``gil`` if its head reads as that GIL there."""
    if gil is None:
        return None, None
    try:
        mem_fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except OSError:
        return None, None
    try:
        head = read_head(os.pread(mem_fd, gil.fields.span, gil.address), 0, gil.fields)
        return (gil if head.interval_us == gil.interval_us else None), mem_fd
    except OSError:
        return None, mem_fd


def read_file(fd: int, size: int = 1024) -> str:
    return os.pread(fd, size, 0).decode("ascii", "replace")
