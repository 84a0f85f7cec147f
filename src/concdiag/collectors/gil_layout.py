"""The head of CPython's ``struct _gil_runtime_state``, as the samplers read it from outside.

For 3.10-3.13 (``Include/internal/pycore_gil.h``) the state begins::

    unsigned long interval;          /* switch interval, microseconds */
    _Py_atomic_address last_holder;  /* PyThreadState* of the last holder */
    _Py_atomic_int locked;           /* -1 until the GIL is first created */
    unsigned long switch_number;     /* forced switches so far (after 4 bytes of padding) */
    PyCOND_T cond; PyMUTEX_T mutex;  /* a GIL waiter sleeps in futex() on these */

on 64-bit Linux. This is the one place concdiag outside the target spells that layout
(the bootstrap, which runs inside the target with only the standard library, finds the state
by the same pattern).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: interval, last_holder, locked, padding, switch_number.
GIL_HEAD = struct.Struct("<QQiiQ")
#: Offset of ``last_holder`` from the start of the state.
HOLDER_OFFSET = 8
#: Bytes of the state in which a GIL waiter's futex address can lie (the head, cond, mutex).
GIL_STATE_SPAN = 256


@dataclass(frozen=True, slots=True)
class GilHead:
    interval_us: int
    last_holder: int  # address of the last holder's PyThreadState (stale while unlocked)
    locked: int  # 1 held, 0 free, -1 never created
    switch_number: int


def read_head(raw: bytes, offset: int = 0) -> GilHead:
    """The head of a GIL state found at ``offset`` of ``raw``."""
    interval, holder, locked, _pad, switches = GIL_HEAD.unpack_from(raw, offset)
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
                    address = base + parent.offset
                    return GilLocation(
                        address,
                        parent.tstate_native_off,
                        parent.tstate_ident_off,
                        parent.mapping,
                        parent.offset,
                        parent.interval_us,
                    )
    except OSError:
        return None
    return None
