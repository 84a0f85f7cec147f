"""The head of CPython's ``struct _gil_runtime_state``, as the samplers read it from outside.

For 3.10-3.13 (``Include/internal/pycore_gil.h``) the state begins::

    unsigned long interval;          /* switch interval, microseconds */
    _Py_atomic_address last_holder;  /* PyThreadState* of the last holder */
    _Py_atomic_int locked;           /* -1 until the GIL is first created */
    unsigned long switch_number;     /* forced switches so far (after 4 bytes of padding) */
    PyCOND_T cond; PyMUTEX_T mutex;  /* a GIL waiter sleeps in futex() on these */

on 64-bit Linux; a free-threaded build (3.13+) puts ``int enabled`` (padded to 8 bytes)
first, which shifts the rest by 8 (`GilFields`). This is the one place concdiag outside the
target spells that layout (the bootstrap, which runs inside the target with only the
standard library, finds the state by the same pattern on 3.10-3.12; on 3.13+ the
interpreter's own debug offsets say where it is, see `runtime_reader`).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass

#: interval, last_holder, locked, padding, switch_number.
GIL_HEAD = struct.Struct("<QQiiQ")
#: Offset of ``last_holder`` from the start of the state.
HOLDER_OFFSET = 8
#: Bytes of the state in which a GIL waiter's futex address can lie (the head, cond, mutex).
GIL_STATE_SPAN = 256


@dataclass(frozen=True, slots=True)
class GilFields:
    """Byte offsets of the head's fields from the start of the state."""

    interval: int = 0
    holder: int = HOLDER_OFFSET
    locked: int = 16
    switch_number: int = 24
    enabled: int | None = None  # free-threaded builds: ``int enabled`` (> 0 when the GIL is on)

    @property
    def span(self) -> int:
        """Bytes to read to get every field."""
        return max(self.interval, self.holder, self.locked, self.switch_number) + 8


#: The head on a default (GIL) build, 3.10 to 3.15.
CLASSIC = GilFields()


@dataclass(frozen=True, slots=True)
class ThreadWalk:
    """How to walk the interpreter's thread states (offsets from the debug offsets)."""

    gil_in_interp: int  # the GIL state's offset in PyInterpreterState (interp = GIL - this)
    threads_head: int  # PyInterpreterState.threads.head
    tstate_size: int
    next: int
    thread_id: int
    native_thread_id: int
    holds_gil: int | None  # None before 3.15
    gil_requested: int | None


@dataclass(frozen=True, slots=True)
class GilHead:
    interval_us: int
    last_holder: int  # address of the last holder's PyThreadState (stale while unlocked)
    locked: int  # 1 held, 0 free, -1 never created
    switch_number: int


def read_head(raw: bytes, offset: int = 0, fields: GilFields = CLASSIC) -> GilHead:
    """The head of a GIL state found at ``offset`` of ``raw``."""
    if fields == CLASSIC:
        interval, holder, locked, _pad, switches = GIL_HEAD.unpack_from(raw, offset)
        return GilHead(interval, holder, locked, switches)
    (interval,) = struct.unpack_from("<Q", raw, offset + fields.interval)
    (holder,) = struct.unpack_from("<Q", raw, offset + fields.holder)
    (locked,) = struct.unpack_from("<i", raw, offset + fields.locked)
    (switches,) = struct.unpack_from("<Q", raw, offset + fields.switch_number)
    return GilHead(interval, holder, locked, switches)


@dataclass(frozen=True, slots=True)
class GilLocation:
    """Where the bootstrap found the GIL word, and how to map its holder to an OS thread."""

    address: int
    tstate_native_off: int | None
    tstate_ident_off: int | None
    mapping: str | None
    offset: int | None
    interval_us: int
    fields: GilFields = CLASSIC
    threads: ThreadWalk | None = None  # set when the thread states carry GIL flags (3.15+)


def locate_in_child(pid: int, parent: GilLocation) -> GilLocation | None:
    """The GIL of a child running the same interpreter lies at the same offset in its image."""
    if parent.mapping is None or parent.offset is None:
        return None
    try:
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and parts[5] == parent.mapping:
                    base = int(parts[0].split("-")[0], 16)
                    return dataclasses.replace(parent, address=base + parent.offset)
    except OSError:
        return None
    return None
