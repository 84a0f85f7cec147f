"""A running CPython found from outside: its interpreter image, version and GIL state.

Nothing is injected into the target. Its interpreter is found from the ``.PyRuntime``
section (else the ``_PyRuntime`` symbol) of the mapped python image. On 3.13 and later the
runtime state begins with the interpreter's own debug offsets (`debug_offsets`), which say
where the GIL and the thread states are (`runtime_reader`). On 3.10-3.12 the GIL state is
found by scanning the runtime state through ``/proc/PID/mem`` for the head of
``struct _gil_runtime_state`` (`gil_layout`: the switch interval in microseconds, then the
last holder's thread state, then the ``locked`` flag), validated by finding one of the
process's OS thread ids inside that thread state.
"""

from __future__ import annotations

import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from concdiag.collectors import elf
from concdiag.collectors.debug_offsets import (
    COOKIE,
    DebugOffsets,
    DebugOffsetsError,
    version_text,
)
from concdiag.collectors.gil_layout import GIL_HEAD, GilLocation, read_head
from concdiag.collectors.permissions import denied
from concdiag.collectors.runtime_reader import GilSwitchWatch, ProcMemory, RuntimeReader
from concdiag.errors import CannotProfileError, UsageError

SUPPORTED = ((3, 10), (3, 15))
#: From this version on the runtime state carries debug offsets (``_Py_DebugOffsets``).
DEBUG_OFFSETS_FROM = (3, 13)
DEFAULT_INTERVAL_US = 5000
#: Switch intervals the GIL search tries: the default first, then values users commonly set
#: with ``sys.setswitchinterval`` (a stated choice: the search needs the exact value).
INTERVAL_CANDIDATES_US = (DEFAULT_INTERVAL_US, 1000, 2000, 10000, 20000, 50000, 100000)
#: How much of the runtime state is searched for the GIL (it lies well inside on 3.10-3.12).
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
    debug_offsets: DebugOffsets | None = None  # 3.13+: the interpreter's own map of itself

    @property
    def free_threaded(self) -> bool:
        return self.debug_offsets is not None and self.debug_offsets.free_threaded


def read_mem(pid: int, address: int, size: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        return os.pread(mem.fileno(), size, address)


def _readable_image(pid: int, path: str) -> Path:
    """The image's file as the target sees it (through /proc/PID/root in containers)."""
    direct = Path(path)
    if direct.is_file():
        return direct
    return Path(f"/proc/{pid}/root{path}")


def inspect_target(pid: int) -> AttachTarget:
    """Check the PID names a readable, supported CPython process; one clear error if not."""
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
    images = elf.interpreter_images(mappings, exe)
    named = next((v for v in map(elf.version_from_name, images) if v), None)
    if named is not None and not (SUPPORTED[0] <= named <= SUPPORTED[1]):
        raise UsageError(_unsupported(pid, f"{named[0]}.{named[1]}"))
    for image in images:
        found = _runtime_of(pid, image, mappings)
        if found is None:
            continue
        base, runtime, version_address = found
        version = ".".join(map(str, named)) if named else "unknown"
        try:
            if version_address is not None:
                raw = read_mem(pid, version_address, 4)
                version = version_text(struct.unpack("<I", raw)[0])
            else:
                read_mem(pid, runtime, 8)
        except PermissionError:
            raise denied(pid) from None
        except OSError as exc:
            raise CannotProfileError(f"cannot read process {pid}: {exc.strerror}") from exc
        running = major_minor(version)
        if running and not (SUPPORTED[0] <= running <= SUPPORTED[1]):
            raise UsageError(_unsupported(pid, version))
        offsets = None
        if (running or named or (0, 0)) >= DEBUG_OFFSETS_FROM or _has_cookie(pid, runtime):
            offsets = _debug_offsets(pid, shown, runtime, running or named, image)
            version = offsets.version
        return AttachTarget(
            pid=pid,
            exe=exe,
            image=image,
            image_base=base,
            runtime_address=runtime,
            version=version,
            command=command,
            debug_offsets=offsets,
        )
    raise UsageError(f"process {pid} ({shown}) is not a Python process")


def _runtime_of(
    pid: int, image: str, mappings: list[elf.Mapping]
) -> tuple[int, int, int | None] | None:
    """(load base, _PyRuntime, Py_Version or None) in the process, or None if not there."""
    path = _readable_image(pid, image)
    try:
        symbols = elf.read_symbols(path, {"_PyRuntime", "Py_Version"})
        runtime = elf.section_address(path, elf.RUNTIME_SECTION) or symbols.get("_PyRuntime")
    except elf.ElfError:
        return None
    base = elf.load_base(mappings, image)
    if runtime is None or base is None:
        return None
    shift = base - elf.first_load_vaddr(path)
    version = symbols.get("Py_Version")
    return base, shift + runtime, None if version is None else shift + version


def _has_cookie(pid: int, runtime: int) -> bool:
    try:
        return read_mem(pid, runtime, len(COOKIE)) == COOKIE
    except OSError:
        return False


def major_minor(version: str) -> tuple[int, int] | None:
    """``3.13.0`` or ``3.15.0a2`` -> (3, 13) / (3, 15); None when it is not a version."""
    parts = version.split(".")
    if len(parts) < 2 or not parts[0].isdigit():
        return None
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


def _debug_offsets(
    pid: int, shown: str, runtime: int, version: tuple[int, int] | None, image: str
) -> DebugOffsets:
    """The interpreter's debug offsets, validated; a mismatch is one line (exit 2)."""
    memory = ProcMemory(pid)
    try:
        reader = RuntimeReader.open(
            memory,
            runtime,
            expected_version=version,
            expected_free_threaded=elf.free_threaded_from_name(image),
        )
    except DebugOffsetsError as exc:
        raise UsageError(f"process {pid} ({shown}): {exc}") from None
    finally:
        memory.close()
    return reader.offsets


def _unsupported(pid: int, version: str) -> str:
    low, high = SUPPORTED
    return (
        f"process {pid} runs Python {version}; concdiag attaches to Python "
        f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"
    )


# -- the GIL, from outside -------------------------------------------------------------------


def locate_gil(target: AttachTarget, attempts: int = 5) -> tuple[GilLocation | None, str]:
    """The GIL's location: (location, "") or (None, why not).

    Through the debug offsets on 3.13+; by scanning the runtime state before.
    """
    if target.debug_offsets is not None:
        return _gil_from_offsets(target, target.debug_offsets)
    return scan_for_gil(target, attempts)


def scan_for_gil(target: AttachTarget, attempts: int = 5) -> tuple[GilLocation | None, str]:
    """Scan the runtime state for the head of the GIL state (3.10-3.12, any GIL build)."""
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
        raw = read_mem(pid, tstate, TSTATE_SCAN_BYTES)
    except OSError:
        return None
    for offset in range(0, len(raw) - 7, 8):
        (value,) = struct.unpack_from("<Q", raw, offset)
        if value in tids:
            return offset
    return None


def _gil_from_offsets(
    target: AttachTarget, offsets: DebugOffsets
) -> tuple[GilLocation | None, str]:
    """The GIL where the debug offsets say, once its thread states name this process's threads."""
    try:
        memory = ProcMemory(target.pid)
    except OSError as exc:
        return None, f"cannot read the process: {exc.strerror}"
    try:
        reader = RuntimeReader(memory, target.runtime_address, offsets)
        tids = {int(t) for t in os.listdir(f"/proc/{target.pid}/task")}
        threads = reader.threads()
        if not any(t.native_thread_id in tids for t in threads):
            return None, (
                f"the {len(threads)} thread states found through the debug offsets name none "
                "of the process's threads"
            )
        return reader.gil_location(target.image, target.image_base), ""
    except (OSError, DebugOffsetsError) as exc:
        return None, f"cannot read the interpreter through its debug offsets: {exc}"
    finally:
        memory.close()


def gil_switched_on(target: AttachTarget) -> bool:
    """Whether the GIL is on now: always on a default build; read on a free-threaded one."""
    if target.debug_offsets is None or not target.debug_offsets.free_threaded:
        return True
    try:
        memory = ProcMemory(target.pid)
    except OSError:
        return False
    try:
        return RuntimeReader(memory, target.runtime_address, target.debug_offsets).gil().enabled
    except (OSError, DebugOffsetsError):
        return False
    finally:
        memory.close()


def gil_switch_watch(target: AttachTarget, enabled: bool) -> GilSwitchWatch | None:
    """A watch on the GIL switch of a free-threaded build (None on a default build)."""
    if target.debug_offsets is None or not target.debug_offsets.free_threaded:
        return None
    try:
        memory = ProcMemory(target.pid)
    except OSError:
        return None
    return GilSwitchWatch(
        RuntimeReader(memory, target.runtime_address, target.debug_offsets), enabled
    )
