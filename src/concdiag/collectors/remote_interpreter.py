"""A running CPython found from outside: its interpreter image, version and GIL state.

Nothing is injected into the target. Its interpreter is found from the ``_PyRuntime`` symbol
of the mapped python image, its GIL state by scanning the runtime state through
``/proc/PID/mem`` for the head of ``struct _gil_runtime_state`` (`gil_layout`: the switch
interval in microseconds, then the last holder's thread state, then the ``locked`` flag),
validated by finding one of the process's OS thread ids inside that thread state.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from concdiag.collectors import elf
from concdiag.collectors.gil_layout import GIL_HEAD, GilLocation, read_head
from concdiag.collectors.permissions import denied
from concdiag.errors import CannotProfileError, UsageError

SUPPORTED = ((3, 10), (3, 13))
DEFAULT_INTERVAL_US = 5000
#: Switch intervals the GIL search tries: the default first, then values users commonly set
#: with ``sys.setswitchinterval`` (a stated choice: the search needs the exact value).
INTERVAL_CANDIDATES_US = (DEFAULT_INTERVAL_US, 1000, 2000, 10000, 20000, 50000, 100000)
#: How much of the runtime state is searched for the GIL (it lies well inside on 3.10-3.13).
RUNTIME_SCAN_BYTES = 4 << 20
#: How much of the holder's thread state is searched for its OS thread id.
TSTATE_SCAN_BYTES = 1024


@dataclass(frozen=True, slots=True)
class AttachTarget:
    """What concdiag learned about the process before sampling it."""

    pid: int
    exe: str
    image: str  # the mapped file holding the interpreter (python or libpython)
    image_base: int
    runtime_address: int
    version: str
    command: list[str]


def _read_mem(pid: int, address: int, size: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        return os.pread(mem.fileno(), size, address)


def _readable_image(pid: int, path: str) -> Path:
    """The image's file as the target sees it (through /proc/PID/root in containers)."""
    direct = Path(path)
    if direct.is_file():
        return direct
    return Path(f"/proc/{pid}/root{path}")


def inspect_target(pid: int) -> AttachTarget:
    """Check the PID names a readable CPython 3.10-3.13 process; one clear error if not."""
    if pid <= 0 or not Path(f"/proc/{pid}").is_dir():
        raise UsageError(f"no process with PID {pid}")
    if pid == os.getpid():
        raise UsageError("concdiag cannot attach to itself")
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        mappings = elf.read_maps(pid)
    except PermissionError:
        raise denied(pid) from None
    except FileNotFoundError:
        raise UsageError(f"no process with PID {pid} (it exited)") from None
    try:
        command = psutil.Process(pid).cmdline()
    except psutil.Error:
        command = [exe]
    exe = exe.removesuffix(" (deleted)")
    shown = Path(command[0]).name if command else Path(exe).name
    named = next(
        (v for v in map(elf.version_from_name, elf.interpreter_images(mappings, exe)) if v), None
    )
    if named is not None and not (SUPPORTED[0] <= named <= SUPPORTED[1]):
        raise UsageError(_unsupported(pid, f"{named[0]}.{named[1]}"))
    for image in elf.interpreter_images(mappings, exe):
        try:
            symbols = elf.read_symbols(_readable_image(pid, image), {"_PyRuntime", "Py_Version"})
        except elf.ElfError:
            continue
        if "_PyRuntime" not in symbols:
            continue
        base = elf.load_base(mappings, image)
        if base is None:
            continue
        shift = base - elf.first_load_vaddr(_readable_image(pid, image))
        version = ".".join(map(str, named)) if named else "unknown"
        try:
            if "Py_Version" in symbols:
                hexversion = struct.unpack("<I", _read_mem(pid, shift + symbols["Py_Version"], 4))[
                    0
                ]
                version = f"{hexversion >> 24}.{hexversion >> 16 & 0xFF}.{hexversion >> 8 & 0xFF}"
            else:
                _read_mem(pid, shift + symbols["_PyRuntime"], 8)
        except PermissionError:
            raise denied(pid) from None
        except OSError as exc:
            raise CannotProfileError(f"cannot read process {pid}: {exc.strerror}") from exc
        major_minor = tuple(int(x) for x in version.split(".")[:2]) if version[0].isdigit() else ()
        if major_minor and not (SUPPORTED[0] <= major_minor <= SUPPORTED[1]):
            raise UsageError(_unsupported(pid, version))
        return AttachTarget(
            pid=pid,
            exe=exe,
            image=image,
            image_base=base,
            runtime_address=shift + symbols["_PyRuntime"],
            version=version,
            command=command,
        )
    raise UsageError(f"process {pid} ({shown}) is not a Python process")


def _unsupported(pid: int, version: str) -> str:
    low, high = SUPPORTED
    return (
        f"process {pid} runs Python {version}; concdiag attaches to Python "
        f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"
    )


# -- the GIL, from outside -------------------------------------------------------------------


def find_gil(target: AttachTarget, attempts: int = 5) -> tuple[GilLocation | None, str]:
    """Scan the runtime state for the GIL; (location, "") or (None, why not)."""
    why = "no GIL state with a recognisable holder in the runtime state"
    for attempt in range(attempts):
        try:
            memory = _read_prefix(target.pid, target.runtime_address, RUNTIME_SCAN_BYTES)
            tids = {int(t) for t in os.listdir(f"/proc/{target.pid}/task")}
        except OSError as exc:
            return None, f"cannot read the runtime state: {exc.strerror}"
        for interval in INTERVAL_CANDIDATES_US:
            found = _match_gil(target, memory, interval, tids)
            if found is not None:
                return found, ""
        if attempt + 1 < attempts:
            time.sleep(0.05)  # the GIL may have had no holder at that instant
    return None, why


def _read_prefix(pid: int, address: int, size: int) -> bytes:
    """Up to ``size`` bytes from ``address``, stopping where the mapping ends."""
    chunks = []
    chunk = 64 << 10
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        offset = 0
        while offset < size:
            try:
                data = os.pread(mem.fileno(), chunk, address + offset)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
            offset += len(data)
    return b"".join(chunks)


def _match_gil(
    target: AttachTarget, memory: bytes, interval_us: int, tids: set[int]
) -> GilLocation | None:
    needle = struct.pack("<Q", interval_us)
    at = memory.find(needle)
    while at >= 0:
        if at % 8 == 0 and at + GIL_HEAD.size <= len(memory):
            head = read_head(memory, at)
            if head.last_holder and head.locked in (0, 1):
                native_off = _native_id_offset(target.pid, head.last_holder, tids)
                if native_off is not None:
                    address = target.runtime_address + at
                    return GilLocation(
                        address=address,
                        tstate_native_off=native_off,
                        tstate_ident_off=None,
                        mapping=target.image,
                        offset=address - target.image_base,
                        interval_us=interval_us,
                    )
        at = memory.find(needle, at + 1)
    return None


def _native_id_offset(pid: int, tstate: int, tids: set[int]) -> int | None:
    """Where the thread state keeps its OS thread id (``native_thread_id``, 3.11+)."""
    try:
        raw = _read_mem(pid, tstate, TSTATE_SCAN_BYTES)
    except OSError:
        return None
    for offset in range(0, len(raw) - 7, 8):
        (value,) = struct.unpack_from("<Q", raw, offset)
        if value in tids:
            return offset
    return None
