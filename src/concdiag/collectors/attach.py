"""Attach mode: sample a Python process that is already running, without touching it.

Nothing is injected into the target. Its interpreter is found from outside (the ``_PyRuntime``
symbol of the mapped python image), its GIL state by scanning the runtime state through
``/proc/PID/mem`` for the ``struct _gil_runtime_state`` pattern (the switch interval in
microseconds, then the last holder's thread state, then the ``locked`` flag), validated by
finding one of the process's OS thread ids inside that thread state. Sampling only reads
``/proc`` and memory, and py-spy runs with ``--nonblocking``: when concdiag stops, is killed
or loses the target, the target carries on as if nothing happened.
"""

from __future__ import annotations

import os
import pwd
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psutil

from concdiag.collectors import elf
from concdiag.collectors.gil_layout import GIL_HEAD, read_head
from concdiag.collectors.procfs import GilLocation, ProcSampler
from concdiag.collectors.pyspy import PySpyRecorder, find_pyspy
from concdiag.collectors.records import Recording, StackChange, TargetInfo, ThreadInfo, Tick
from concdiag.errors import CannotProfileError, UsageError
from concdiag.interrupts import SIGNALS, Interrupted

SUPPORTED = ((3, 10), (3, 13))
DEFAULT_INTERVAL_US = 5000
#: Switch intervals the GIL search tries: the default first, then values users commonly set
#: with ``sys.setswitchinterval`` (a stated choice: the search needs the exact value).
INTERVAL_CANDIDATES_US = (DEFAULT_INTERVAL_US, 1000, 2000, 10000, 20000, 50000, 100000)
RUNTIME_SCAN_BYTES = 4 << 20
TSTATE_SCAN_BYTES = 1024
#: py-spy is restarted this often on an attach, so no trace (and no tick list) grows unbounded,
STACK_CHUNK_S = 60.0
#: or sooner, once the chunk holds this many thread observations (50 threads at 100 Hz: 10 s).
CHUNK_OBSERVATIONS = 50_000
CAP_SYS_PTRACE = 19


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


@dataclass
class AttachResult:
    recording: Recording
    started_at: datetime
    ended_at: datetime
    target_exited: bool = False
    interrupted: bool = False
    partial_reasons: list[str] = field(default_factory=list)
    collectors: list[tuple[str, bool, str]] = field(default_factory=list)
    concdiag_cpu_s: float = 0.0


# -- checks before sampling ------------------------------------------------------------------


def _ptrace_scope() -> int | None:
    try:
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    except (OSError, ValueError):
        return None


def _has_cap_sys_ptrace() -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    except (OSError, ValueError):
        pass
    return False


def _in_container() -> bool:
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    try:
        text = Path("/proc/1/cgroup").read_text()
    except OSError:
        return False
    return any(word in text for word in ("docker", "kubepods", "containerd", "libpod"))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def permission_advice(
    pid: int,
    target_uid: int | None,
    my_uid: int,
    ptrace_scope: int | None,
    cap_sys_ptrace: bool,
    in_container: bool,
) -> str:
    """One line naming what keeps concdiag from reading the target, and what fixes it."""
    fixes = []
    if target_uid is not None and target_uid != my_uid and not cap_sys_ptrace:
        fixes.append(f"run concdiag as user {_user_name(target_uid)} (the target's) or with sudo")
    if ptrace_scope == 3:
        fixes.append("kernel.yama.ptrace_scope is 3: attaching is disabled until reboot")
    elif ptrace_scope == 2 and not cap_sys_ptrace:
        fixes.append("kernel.yama.ptrace_scope is 2: only root may attach (sudo)")
    elif ptrace_scope == 1 and not cap_sys_ptrace:
        fixes.append(
            "kernel.yama.ptrace_scope is 1: attach with sudo, or set "
            "`sysctl kernel.yama.ptrace_scope=0`"
        )
    if in_container and not cap_sys_ptrace:
        fixes.append("in a container, start it with --cap-add SYS_PTRACE")
    if not fixes:
        fixes.append("run concdiag with sudo or CAP_SYS_PTRACE")
    return f"not permitted to read process {pid} (ptrace): " + "; ".join(fixes)


def _denied(pid: int) -> CannotProfileError:
    try:
        target_uid: int | None = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        target_uid = None
    return CannotProfileError(
        permission_advice(
            pid, target_uid, os.geteuid(), _ptrace_scope(), _has_cap_sys_ptrace(), _in_container()
        )
    )


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
        raise _denied(pid) from None
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
            raise _denied(pid) from None
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


# -- sampling --------------------------------------------------------------------------------


def attach(
    target: AttachTarget,
    rate_hz: float,
    duration_s: float | None,
    progress: Callable[[float, int], None] | None = None,
    chunk_s: float | None = None,
    sink: Callable[[Recording], ChunkSink] | None = None,
) -> AttachResult:
    """``sink(recording)`` returns where ticks go, chunk by chunk, with their stacks (the
    streaming accounting); without one they are kept in the recording."""
    """Sample until the duration ends, the user interrupts, or the target exits."""
    cpu_at_start = time.process_time()
    if chunk_s is None:
        chunk_s = float(os.environ.get("CONCDIAG_STACK_CHUNK_S", STACK_CHUNK_S))
    gil, why = find_gil(target)
    info = TargetInfo(
        pid=target.pid,
        executable=target.exe,
        version=target.version,
        implementation="cpython",
        gil_enabled=True,
        free_threaded_build=False,
        switch_interval_s=(gil.interval_us / 1e6) if gil else None,
        gil_found=gil is not None,
        main_tid=target.pid,
    )
    recording = Recording(rate_hz=rate_hz, target=info)
    if gil is None:
        recording.notes.append(
            f"GIL holder not measured ({why}): CPU is split into Python and native by stacks only"
        )
    collectors: list[tuple[str, bool, str]] = []
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    sampler = ProcSampler(recording, target.pid, gil, {}, t0=t0)
    sampler.start()
    collectors.append(
        ("procfs", True, "thread states, blocking calls" + (", GIL holder" if gil else ""))
    )
    chunks = _StackChunks(
        target.pid, rate_hz, recording, t0, chunk_s, sink(recording) if sink else None
    )
    if chunks.start():
        collectors.append(("py-spy", True, "Python stacks of every thread"))
    else:
        collectors.append(("py-spy", False, chunks.error or "failed"))
        recording.notes.append(f"no Python stacks: {chunks.error}")
    result = AttachResult(recording, started_at, started_at, collectors=collectors)
    try:
        with SIGNALS.sampling():
            while True:
                elapsed = time.monotonic() - t0
                if progress is not None:
                    progress(elapsed, sampler.ticks_done)
                if not _alive(target.pid) or sampler.finished:
                    result.target_exited = True
                    result.partial_reasons.append(
                        f"the target exited {elapsed:.1f} s into sampling; "
                        "the profile covers what ran until then"
                    )
                    break
                if duration_s is not None and elapsed >= duration_s:
                    break
                chunks.maybe_rotate()
                time.sleep(0.05)
    except Interrupted:
        result.interrupted = True
        result.partial_reasons.append(
            f"sampling stopped by {SIGNALS.signal_name or 'an interrupt'} after "
            f"{time.monotonic() - t0:.1f} s; the target was left running"
        )
    result.ended_at = datetime.now(timezone.utc)
    recording.duration_s = time.monotonic() - t0
    sampler.stop()
    chunks.finish()
    _register_threads(recording, chunks)
    result.concdiag_cpu_s = (time.process_time() - cpu_at_start) + chunks.cpu_s
    recording.sampler_cpu_s = result.concdiag_cpu_s
    result.collectors = collectors
    return result


ChunkSink = Callable[[list[Tick], dict[tuple[int, int], list[StackChange]]], None]


class _StackChunks:
    """py-spy in consecutive chunks, each folded with its ticks into the streaming accounting.

    py-spy writes its trace only when it stops, and a trace grows with the run; so every
    ``chunk_s`` a new py-spy starts, the previous one stops, and the ticks before the handover
    go with its stacks to the sink (the streaming accounting) and are dropped. Memory then
    stays bounded on runs of any length.
    """

    def __init__(
        self,
        pid: int,
        rate_hz: float,
        recording: Recording,
        t0: float,
        chunk_s: float,
        sink: ChunkSink | None,
    ) -> None:
        self.pid = pid
        self.rate_hz = rate_hz
        self.recording = recording
        self.t0 = t0
        self.chunk_s = chunk_s
        self.sink = sink
        self.current: PySpyRecorder | None = None
        self.error: str | None = None
        self.cpu_s = 0.0
        self.names: dict[int, str] = {}
        self.python: set[tuple[int, int]] = set()
        self.seen: set[tuple[int, int]] = set()
        self.rotated_at = t0
        self.chunks = 0

    def start(self) -> bool:
        spy = PySpyRecorder(self.pid, self.rate_hz)
        if not spy.start():
            self.error = spy.error
            return False
        self.current = spy
        self.rotated_at = time.monotonic()
        return True

    def maybe_rotate(self) -> None:
        if self.current is None:
            return
        ticks = self.recording.ticks
        volume = len(ticks) * len(ticks[-1].threads) if ticks and self.sink else 0
        if time.monotonic() - self.rotated_at < self.chunk_s and volume < CHUNK_OBSERVATIONS:
            return
        previous = self.current
        if not self.start():  # the target may be gone; keep the running one
            self.current = previous
            self.rotated_at = time.monotonic()
            return
        handover_s = time.monotonic() - self.t0
        self._fold(previous, handover_s)

    def finish(self) -> None:
        if self.current is not None:
            self._fold(self.current, float("inf"))
            self.current = None
        elif self.sink is not None:
            self._feed(self._take_ticks(float("inf")), {})
        else:
            self._feed(list(self.recording.ticks), {})

    def _fold(self, spy: PySpyRecorder, until_s: float) -> None:
        spy.stop()
        self.cpu_s += spy.cpu_s
        stacks = spy.read_stacks(spy.started_monotonic - self.t0)
        if spy.error and self.error is None:
            self.error = spy.error
        self.names.update(spy.thread_names)
        self.python.update(stacks)
        self.chunks += 1
        if self.sink is None:  # keep everything in the recording (tests, short runs)
            for key, changes in stacks.items():
                self.recording.stacks.setdefault(key, []).extend(changes)
            self._feed(list(self.recording.ticks), {})
            return
        self._feed(self._take_ticks(until_s), stacks)

    def _take_ticks(self, until_s: float) -> list[Tick]:
        """Ticks before ``until_s``, removed from the recording; later ones stay."""
        pending = self.recording.ticks
        self.recording.ticks = []
        time.sleep(2.0 / self.rate_hz)  # let an append already under way land in ``pending``
        pending.sort(key=lambda tick: tick.t_s)
        cut = next((i for i, tick in enumerate(pending) if tick.t_s >= until_s), len(pending))
        if cut < len(pending):
            self.recording.ticks[:0] = pending[cut:]
        return pending[:cut]

    def _feed(self, ticks: list[Tick], stacks: dict[tuple[int, int], list[StackChange]]) -> None:
        for tick in ticks:
            for obs in tick.threads:
                self.seen.add((tick.pid, obs.tid))
        _register_threads(self.recording, self)  # the accounting needs to know Python threads
        if self.sink is not None:
            self.sink(ticks, stacks)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status[status.rindex(")") + 2] != "Z"


def _register_threads(recording: Recording, chunks: _StackChunks) -> None:
    python = chunks.python
    for pid, tid in sorted(chunks.seen | python):
        is_main = tid == pid
        name = chunks.names.get(tid) or ("MainThread" if is_main else f"thread-{tid}")
        recording.threads[(pid, tid)] = ThreadInfo(
            pid=pid,
            tid=tid,
            name=name,
            ident=None,
            # A child's main thread counts as Python only if py-spy saw it (not `sleep`, `git`).
            python=(pid, tid) in python or (is_main and pid == recording.target.pid),
            is_main=is_main,
        )


def require_pyspy() -> None:
    if find_pyspy() is None:
        raise CannotProfileError(
            "py-spy is not installed in this environment (pip install py-spy); "
            "attach mode needs it to read Python stacks"
        )
