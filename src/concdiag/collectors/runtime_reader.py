"""Read a CPython 3.13+ interpreter's GIL and thread states through its debug offsets.

Everything goes through a `Memory` (``read(address, size)``), so the same reader serves a
live process (`ProcMemory`, ``/proc/PID/mem``) and the tests' synthetic process images laid
out exactly as CPython's headers define them. It follows CPython's own remote reader
(``Modules/_remote_debugging/``): the main interpreter is the head of the runtime's
interpreter list; its GIL is the interpreter's own ``_gil``, read in one piece, and
``last_holder`` counts only while ``locked`` says the GIL is held (it is stale while the
GIL is free); threads are the interpreter's ``threads.head`` list linked by ``next``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Protocol

from concdiag.collectors.debug_offsets import (
    TABLE_BYTES,
    DebugOffsets,
    DebugOffsetsError,
    gil_holder_in_state,
    parse,
)
from concdiag.collectors.gil_layout import GilFields, GilLocation, ThreadWalk, read_head

#: A cycle or a torn list must not make a tick loop for ever.
MAX_THREADS = 4096
#: How often attach re-reads a free-threaded build's GIL switch: a stated choice, two small
#: reads a second, well inside the slack of a 100 Hz sampler.
GIL_SWITCH_EVERY_S = 1.0


class Memory(Protocol):
    """Bytes of the target's address space; raises OSError where nothing is mapped."""

    def read(self, address: int, size: int) -> bytes: ...


class ProcMemory:
    """A live process's memory through ``/proc/PID/mem`` (close it when done)."""

    def __init__(self, pid: int) -> None:
        self.fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)

    def read(self, address: int, size: int) -> bytes:
        return FdMemory(self.fd).read(address, size)

    def close(self) -> None:
        os.close(self.fd)


@dataclass(frozen=True, slots=True)
class ThreadStateView:
    """One ``PyThreadState`` as read: where it is and the fields the sampler uses."""

    address: int
    thread_id: int  # pthread_t (threading.get_ident())
    native_thread_id: int  # the OS thread id
    holds_gil: bool | None  # 3.15+
    gil_requested: bool | None  # 3.15+


@dataclass(frozen=True, slots=True)
class GilView:
    enabled: bool  # always True on a default build; the run-time switch on a free-threaded one
    locked: bool
    holder: int  # PyThreadState address, 0 when the GIL is free (the stored one is stale)
    switch_number: int


def _u64(memory: Memory, address: int) -> int:
    return int(struct.unpack("<Q", memory.read(address, 8))[0])


class RuntimeReader:
    """The main interpreter of one process, read through its debug offsets."""

    def __init__(self, memory: Memory, runtime_address: int, offsets: DebugOffsets) -> None:
        self.memory = memory
        self.runtime_address = runtime_address
        self.offsets = offsets

    @classmethod
    def open(
        cls,
        memory: Memory,
        runtime_address: int,
        *,
        expected_version: tuple[int, int] | None = None,
        expected_free_threaded: bool | None = None,
    ) -> RuntimeReader:
        """Read and validate the table at ``runtime_address``; DebugOffsetsError if it fails."""
        try:
            raw = memory.read(runtime_address, TABLE_BYTES)
        except OSError as exc:
            raise DebugOffsetsError(f"cannot read the runtime state: {exc}") from exc
        offsets = parse(
            raw,
            expected_version=expected_version,
            expected_free_threaded=expected_free_threaded,
        )
        return cls(memory, runtime_address, offsets)

    def main_interpreter(self) -> int:
        address = _u64(self.memory, self.runtime_address + self.offsets.interpreters_head)
        if not address:
            raise DebugOffsetsError("the runtime has no interpreter yet (or is finalizing)")
        return address

    def gil(self, interp: int | None = None) -> GilView:
        interp = self.main_interpreter() if interp is None else interp
        address = interp + self.offsets.gil_state
        fields = self.gil_fields
        raw = self.memory.read(address, fields.span)
        enabled = True
        if fields.enabled is not None:
            enabled = struct.unpack_from("<i", raw, fields.enabled)[0] > 0
        head = read_head(raw, 0, fields)
        locked = head.locked == 1
        return GilView(enabled, locked, head.last_holder if locked else 0, head.switch_number)

    @property
    def gil_fields(self) -> GilFields:
        holder = gil_holder_in_state(self.offsets.free_threaded)
        return GilFields(
            interval=holder - 8,
            holder=holder,
            locked=holder + 8,
            switch_number=holder + 16,
            enabled=self.offsets.gil_enabled,
        )

    def threads(self, interp: int | None = None) -> list[ThreadStateView]:
        interp = self.main_interpreter() if interp is None else interp
        return read_thread_states(self.memory, interp, self.thread_walk)

    @property
    def thread_walk(self) -> ThreadWalk:
        off = self.offsets
        return ThreadWalk(
            gil_in_interp=off.gil_state,
            threads_head=off.threads_head,
            tstate_size=off.tstate_size,
            next=off.tstate_next,
            thread_id=off.tstate_thread_id,
            native_thread_id=off.tstate_native_thread_id,
            holds_gil=off.tstate_holds_gil,
            gil_requested=off.tstate_gil_requested,
        )

    def gil_location(self, mapping: str | None, image_base: int | None) -> GilLocation:
        """Where the sampler reads the GIL each tick, and how it maps holders to threads."""
        off = self.offsets
        interp = self.main_interpreter()
        address = interp + off.gil_state
        fields = self.gil_fields
        interval = _u64(self.memory, address + fields.interval)
        walk = self.thread_walk
        has_flags = walk.holds_gil is not None and walk.gil_requested is not None
        return GilLocation(
            address=address,
            tstate_native_off=off.tstate_native_thread_id,
            tstate_ident_off=off.tstate_thread_id,
            mapping=mapping,
            offset=None if image_base is None else address - image_base,
            interval_us=interval,
            fields=fields,
            threads=walk if has_flags else None,
        )


class GilSwitchWatch:
    """A free-threaded build's GIL switch, re-read at most every ``every_s``.

    The switch is not fixed at start: importing an extension that does not declare
    free-threading support turns the GIL back on while the program runs.
    """

    def __init__(
        self, reader: RuntimeReader, enabled: bool, every_s: float = GIL_SWITCH_EVERY_S
    ) -> None:
        self.reader = reader
        self.enabled = enabled
        self.every_s = every_s
        self.changes: list[tuple[float, bool]] = []  # (seconds into sampling, now enabled)
        self._next_s = 0.0

    def poll(self, now_s: float) -> bool | None:
        """The switch's new state when it changed since the last read, else None."""
        if now_s < self._next_s:
            return None
        self._next_s = now_s + self.every_s
        try:
            enabled = self.reader.gil().enabled
        except (OSError, DebugOffsetsError):
            return None  # the process is exiting, or between interpreters: read it next time
        if enabled == self.enabled:
            return None
        self.enabled = enabled
        self.changes.append((now_s, enabled))
        return enabled

    def close(self) -> None:
        if isinstance(self.reader.memory, ProcMemory):
            self.reader.memory.close()


def read_thread_states(memory: Memory, interp: int, walk: ThreadWalk) -> list[ThreadStateView]:
    """The interpreter's thread states, from ``threads.head`` along ``next``."""
    found: list[ThreadStateView] = []
    seen: set[int] = set()
    address = _u64(memory, interp + walk.threads_head)
    while address and address not in seen and len(found) < MAX_THREADS:
        seen.add(address)
        raw = memory.read(address, walk.tstate_size)
        found.append(
            ThreadStateView(
                address=address,
                thread_id=_field(raw, walk.thread_id, "<Q"),
                native_thread_id=_field(raw, walk.native_thread_id, "<Q"),
                holds_gil=_flag(raw, walk.holds_gil),
                gil_requested=_flag(raw, walk.gil_requested),
            )
        )
        address = _field(raw, walk.next, "<Q")
    return found


class FdMemory:
    """Memory through an already open ``/proc/PID/mem`` descriptor (the sampler's)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, address: int, size: int) -> bytes:
        data = os.pread(self.fd, size, address)
        if len(data) < size:
            raise OSError(f"short read at {address:#x}")
        return data


def _field(raw: bytes, offset: int, fmt: str) -> int:
    return int(struct.unpack_from(fmt, raw, offset)[0])


def _flag(raw: bytes, offset: int | None) -> bool | None:
    return None if offset is None else _field(raw, offset, "<i") != 0
