"""Synthetic process images of CPython 3.13-3.15, laid out as CPython's headers define them.

Only 3.10-3.13 interpreters can be installed here, so the 3.14 and 3.15 readers are tested
against these: a ``_PyRuntime`` that begins with ``_Py_DebugOffsets`` (every entry spelled
below in the header's order, transcribed from ``Include/internal/pycore_debug_offsets.h``
independently of the reader's own table shapes), the main interpreter state with its own
``struct _gil_runtime_state``, and a list of thread states. The field offsets inside the
structs are plausible values of the right kind, not any build's exact numbers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

#: The table, entry by entry after cookie/version/free_threaded, in each header's order.
#: ``None`` marks entries the reader does not use (written as 0).
RUNTIME = ("size", "finalizing", "interpreters_head")
INTERP_313 = (
    "size", "id", "next", "threads_head", "gc", "imports_modules", "sysdict", "builtins",
    "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled", "gil_runtime_state_locked",
    "gil_runtime_state_holder",
)  # fmt: skip
INTERP_314 = (
    "size", "id", "next", "threads_head", "threads_main", "gc", "imports_modules", "sysdict",
    "builtins", "ceval_gil", "gil_runtime_state", "gil_runtime_state_enabled",
    "gil_runtime_state_locked", "gil_runtime_state_holder", "code_object_generation",
    "tlbc_generation",
)  # fmt: skip
THREAD_313 = (
    "size", "prev", "next", "interp", "current_frame", "thread_id", "native_thread_id",
    "datastack_chunk", "status",
)  # fmt: skip
THREAD_315 = (
    "size", "prev", "next", "interp", "current_frame", "base_frame", "last_profiled_frame",
    "last_profiled_frame_seq", "thread_id", "native_thread_id", "datastack_chunk", "status",
    "holds_gil", "gil_requested", "current_exception", "exc_state",
)  # fmt: skip
HEADERS = {
    (3, 13): (INTERP_313, THREAD_313),
    (3, 14): (INTERP_314, THREAD_313),
    (3, 15): (INTERP_314, THREAD_315),
}

RUNTIME_AT = 0x7F00_0000_0000
INTERP_AT = 0x5600_0000_0000
TSTATE_AT = 0x5600_1000_0000
TSTATE_SIZE = 512
INTERP_SIZE = 12_000
GIL_AT = 7752  # offsetof(PyInterpreterState, _gil), as in a real 3.13.0


@dataclass
class FakeThread:
    native_id: int
    ident: int
    holds_gil: bool = False
    gil_requested: bool = False


@dataclass
class Image:
    """A sparse address space: region start -> bytes; reads outside raise OSError."""

    regions: dict[int, bytearray] = field(default_factory=dict)

    def read(self, address: int, size: int) -> bytes:
        for start, data in self.regions.items():
            if start <= address and address + size <= start + len(data):
                return bytes(data[address - start : address - start + size])
        raise OSError(f"nothing mapped at {address:#x}")


def version_hex(major: int, minor: int, micro: int = 0, level: int = 0xF, serial: int = 0) -> int:
    return major << 24 | minor << 16 | micro << 8 | level << 4 | serial


def interp_offsets(free_threaded: bool) -> dict[str, int]:
    # struct _gil_runtime_state: [int enabled (free-threaded)], interval, last_holder, locked
    holder = GIL_AT + (16 if free_threaded else 8)
    return {
        "size": INTERP_SIZE,
        "next": 7264,
        "threads_head": 7344,
        "gil_runtime_state": GIL_AT,
        "gil_runtime_state_enabled": 0,  # offsetof(struct _gil_runtime_state, enabled)
        "gil_runtime_state_locked": holder + 8,
        "gil_runtime_state_holder": holder,
    }


THREAD_OFFSETS = {
    "size": TSTATE_SIZE,
    "prev": 0,
    "next": 8,
    "interp": 16,
    "current_frame": 72,
    "thread_id": 152,
    "native_thread_id": 160,
    "holds_gil": 200,
    "gil_requested": 204,
}


def table(
    version: tuple[int, int],
    *,
    free_threaded: bool = False,
    cookie: bytes = b"xdebugpy",
    hexversion: int | None = None,
) -> bytes:
    interp_fields, thread_fields = HEADERS[version]
    interp = interp_offsets(free_threaded)
    if not free_threaded:
        interp["gil_runtime_state_enabled"] = 0
    entries = [{"interpreters_head": 632, "size": 283_320}.get(n, 0) for n in RUNTIME]
    entries += [interp.get(n, 0) for n in interp_fields]
    entries += [THREAD_OFFSETS.get(n, 0) for n in thread_fields]
    hexversion = version_hex(*version) if hexversion is None else hexversion
    head = struct.pack("<8sQQ", cookie, hexversion, int(free_threaded))
    return head + struct.pack(f"<{len(entries)}Q", *entries)


def image(
    version: tuple[int, int],
    threads: list[FakeThread],
    *,
    holder: int | None = None,
    free_threaded: bool = False,
    gil_on: bool = True,
    interval_us: int = 5000,
    switches: int = 7,
    **table_options: object,
) -> Image:
    """A process image whose GIL is held by ``threads[holder]`` (free when ``holder`` is None)."""
    runtime = bytearray(4096)
    raw_table = table(version, free_threaded=free_threaded, **table_options)  # type: ignore[arg-type]
    runtime[: len(raw_table)] = raw_table
    struct.pack_into("<Q", runtime, 632, INTERP_AT)
    interp = bytearray(INTERP_SIZE)
    offsets = interp_offsets(free_threaded)
    addresses = [TSTATE_AT + i * TSTATE_SIZE for i in range(len(threads))]
    struct.pack_into("<Q", interp, offsets["threads_head"], addresses[0] if addresses else 0)
    gil = GIL_AT
    if free_threaded:
        struct.pack_into("<i", interp, gil, 1 if gil_on else 0)
        gil += 8
    last = addresses[holder] if holder is not None else (addresses[0] if addresses else 0)
    struct.pack_into(
        "<QQiiQ", interp, gil, interval_us, last, 1 if holder is not None else 0, 0, switches
    )
    tstates = bytearray(TSTATE_SIZE * max(1, len(threads)))
    for i, thread in enumerate(threads):
        base = i * TSTATE_SIZE
        following = addresses[i + 1] if i + 1 < len(threads) else 0
        struct.pack_into("<QQQ", tstates, base, addresses[i - 1] if i else 0, following, INTERP_AT)
        struct.pack_into("<Q", tstates, base + THREAD_OFFSETS["thread_id"], thread.ident)
        struct.pack_into("<Q", tstates, base + THREAD_OFFSETS["native_thread_id"], thread.native_id)
        if version >= (3, 15):
            flags = (int(thread.holds_gil), int(thread.gil_requested))
            struct.pack_into("<ii", tstates, base + THREAD_OFFSETS["holds_gil"], *flags)
    return Image({RUNTIME_AT: runtime, INTERP_AT: interp, TSTATE_AT: tstates})
