"""The in-process collector: samples the target from a thread inside its own interpreter.

Used when tracing is not allowed (containers and CI runners without SYS_PTRACE), where py-spy
and reading another process's memory fail. Loaded by the bootstrap before the script runs, in
whatever Python the target uses (3.10 to 3.15), so it uses only the standard library. At each
tick it records, like the out-of-process samplers:

- every thread's state and blocking system call from ``/proc/self/task`` (a process may always
  read its own threads), and its CPU clock;
- which threads ran Python code since the last tick: per-thread CPU clocks tell, because the
  sampler holds the GIL through each snapshot (see `_Sampler.tick`);
- every Python thread's stack from ``sys._current_frames()``, written only when it changed.

A probe thread measures GIL latency: how late a 2 ms sleep wakes up, since a thread waking
from sleep must take the GIL again. Records are JSON lines appended to a file concdiag reads
when the target ends (``wire.py`` names their fields); each is written with one
``os.write`` on an ``O_APPEND`` file, so a killed target leaves whole lines behind. Forked
children restart a sampler of their own.
What it cannot see: processes started with spawn or exec (they do not run this collector),
time when the sampler itself waits for the GIL (it holds the GIL while walking stacks, which
is its overhead on the target), and native threads' stacks.
"""

import os
import sys
import threading
import time

from . import wire

_STATE = {"fd": -1, "stop": None, "threads": []}
#: How often the process's CPU and context-switch counters are read. The outside sampler
#: (``collectors/procfs.py``) reads them as often, so both modes' counters end at most this
#: long before the run does (docs/measurement.md).
COUNTER_EVERY_S = 0.25
PROBE_SLEEP_S = 0.002
#: A snapshot lasts at least this long, holding the GIL, so native threads' clocks move.
SNAPSHOT_WINDOW_S = 0.0003


def _write(record):
    """Append one record (a ``wire`` record type) as a line."""
    fd = _STATE["fd"]
    if fd < 0:
        return
    try:
        os.write(fd, wire.encode(record))
    except OSError:
        _STATE["fd"] = -1


def _read(path, size=1024):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, 0).decode("ascii", "replace")
    finally:
        os.close(fd)


class _HeldReader:
    """pread(2) through ctypes.PyDLL, which keeps the GIL while it runs.

    ``os.pread`` releases the GIL; a sampler that released it for every file would hand the
    GIL to a CPU-bound thread and wait a whole switch interval (5 ms) to get it back, for each
    file. Holding it, one tick is a snapshot: every other thread is either running native code
    (state R) or parked, and those wanting the GIL are parked on it.
    """

    def __init__(self):
        import ctypes

        self.ctypes = ctypes
        self.libc = ctypes.PyDLL(None)
        self.libc.pread.restype = ctypes.c_ssize_t
        self.libc.pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]
        self.buffer = ctypes.create_string_buffer(1024)

    def read(self, fd, size=1024):
        n = self.libc.pread(fd, self.buffer, min(size, 1024), 0)
        if n < 0:
            raise OSError("pread failed")
        return self.buffer.raw[:n].decode("ascii", "replace")


def _stat(text):
    rest = text[text.rindex(")") + 2 :].split()
    return rest[0], int(rest[11]), int(rest[12])


def _stack(frame):
    frames = []
    while frame is not None:
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        frames.append((name, code.co_filename, frame.f_lineno or 0))
        frame = frame.f_back
    frames.reverse()
    return frames


class _Sampler:
    def __init__(self, rate_hz, gil):
        self.interval = 1.0 / rate_hz
        self.gil = gil
        self.pid = os.getpid()
        self.stop = threading.Event()
        self.last_stacks = {}
        self.thread = threading.Thread(target=self.run, name="concdiag-inprocess", daemon=True)
        self.probe = threading.Thread(target=self.run_probe, name="concdiag-probe", daemon=True)
        self.own_tids = set()
        self.latencies_ms = []
        self.reader = _HeldReader()
        self.files = {}  # tid -> (stat fd, syscall fd)
        self.tids = []
        self.last_cpu = {}
        self.ticks = 0
        self.last_now = 0.0

    def start(self):
        self.thread.start()
        self.probe.start()

    def thread_files(self, tid):
        files = self.files.get(tid)
        if files is None:
            base = "/proc/self/task/%d" % tid
            stat_fd = os.open(base + "/stat", os.O_RDONLY)
            try:
                syscall_fd = os.open(base + "/syscall", os.O_RDONLY)
            except OSError:
                syscall_fd = -1
            files = self.files[tid] = (stat_fd, syscall_fd)
        return files

    def forget(self, tid):
        for fd in self.files.pop(tid, ()):
            if fd >= 0:
                os.close(fd)

    def gil_switches(self):
        """The GIL's switch counter, read directly (no system call, the GIL stays held)."""
        address = self.gil.get("gil_addr")
        if not address:
            return None
        import ctypes
        import struct

        return struct.unpack("<Q", ctypes.string_at(address + 24, 8))[0]

    def cpu_ns(self, tid):
        """The thread's CPU clock, by OS thread id; None once the thread has gone.

        The clock id is the kernel's per-thread CPU clock, ((~tid) << 3) | 6, which is what
        glibc's pthread_getcpuclockid computes from the thread's pthread structure. Going
        through that structure is unsafe here: a thread can end between listing and reading
        it, and reading a freed pthread killed targets with SIGSEGV (seen on io_threads.py,
        whose server starts a thread per request). By tid, a gone thread is just EINVAL.
        """
        try:
            return time.clock_gettime_ns(((~tid) << 3) | 6)
        except (OSError, OverflowError, ValueError):
            return None

    def tick(self, now):
        """One snapshot, taken while holding the GIL (see `_HeldReader`).

        While the sampler holds the GIL, a thread running native code (GIL released) keeps
        running and its CPU clock keeps advancing through the snapshot; a thread that was
        running Python stops and waits for the GIL. Each observation carries the thread's CPU
        since the last tick and during the snapshot, for concdiag to weigh.
        """
        threads = {t.native_id: t.ident for t in threading.enumerate() if t.native_id}
        tid_of = {ident: tid for tid, ident in threads.items()}
        frames = sys._current_frames()
        window_start = time.perf_counter()
        switches_start = self.gil_switches()
        cpu_start = {}
        for tid in threads:
            if tid not in self.own_tids:
                cpu_start[tid] = self.cpu_ns(tid)
        if self.ticks % 10 == 0 or not self.tids:
            try:
                self.tids = [int(t) for t in os.listdir("/proc/self/task")]
            except OSError:
                return
        self.ticks += 1
        gil_base = self.gil.get("gil_addr")
        observations = self.observe_threads(gil_base)
        while time.perf_counter() - window_start < SNAPSHOT_WINDOW_S:
            pass  # long enough for a native thread's CPU clock to move visibly
        window_ns = (time.perf_counter() - window_start) * 1e9
        # If the GIL changed hands during the snapshot (the sampler was made to drop it), a
        # Python thread may have run in the window: clocks cannot tell native code then.
        gil_kept = switches_start is not None and self.gil_switches() == switches_start
        elapsed_ns = (now - self.last_now) * 1e9 if self.last_now else 0.0
        self.last_now = now
        # Raw clock figures go to concdiag, which splits CPU into Python and native per
        # thread over the whole run (collectors/inprocess.py): a snapshot alone cannot tell.
        samples = self.clock_samples(observations, cpu_start)
        live = set(self.tids)
        for tid in list(self.files):
            if tid not in live:
                self.forget(tid)
        try:
            pstat = _stat(self.reader.read(self.proc_stat_fd))
        except (OSError, ValueError):
            return
        window = wire.SnapshotWindow(elapsed_ns, window_ns, gil_kept, bool(gil_base))
        _write(
            wire.TickRecord(now, self.pid, None, None, None, pstat[1] + pstat[2], samples, window)
        )
        self.write_stacks(now, frames, tid_of)
        del frames

    def observe_threads(self, gil_base):
        """Each thread's state, blocking system call, whether it is parked on the GIL, and
        CPU ticks, read with the GIL held (`_HeldReader`)."""
        observations = []
        for tid in self.tids:
            if tid in self.own_tids:
                continue
            try:
                stat_fd, syscall_fd = self.thread_files(tid)
                state, utime, stime = _stat(self.reader.read(stat_fd))
                syscall, on_gil = None, False
                if state != "R" and syscall_fd >= 0:
                    parts = self.reader.read(syscall_fd, 256).split()
                    if parts and parts[0] != "running" and int(parts[0]) >= 0:
                        syscall = int(parts[0])
                        if gil_base and len(parts) > 1:
                            address = int(parts[1], 16)
                            on_gil = gil_base <= address < gil_base + 256
            except (OSError, ValueError):
                self.forget(tid)
                continue
            observations.append((tid, state, syscall, on_gil, utime + stime))
        return observations

    def clock_samples(self, observations, cpu_start):
        """The observations with each thread's CPU since the last tick and during the
        snapshot (None for a thread whose clock could not be read)."""
        samples = []
        for tid, state, syscall, on_gil, cpu_ticks in observations:
            start = cpu_start.get(tid)
            end = self.cpu_ns(tid) if start is not None else None
            if start is None or end is None:
                since = during = None
            else:
                since, during = start - self.last_cpu.get(tid, start), end - start
                self.last_cpu[tid] = end
            samples.append(wire.ThreadSample(tid, state, syscall, on_gil, cpu_ticks, since, during))
        return samples

    def write_stacks(self, now, frames, tid_of):
        """Each Python thread's stack, written only when it changed since the last tick."""
        for ident, frame in frames.items():
            tid = tid_of.get(ident)
            if tid is None or tid in self.own_tids:
                continue
            stack = _stack(frame)
            if self.last_stacks.get(tid) != stack:
                self.last_stacks[tid] = stack
                _write(wire.StackRecord(now, self.pid, tid, stack))

    def counters(self, now):
        try:
            _, utime, stime = _stat(_read("/proc/self/stat"))
            status = _read("/proc/self/status", 4096)
        except (OSError, ValueError):
            return
        fields = {}
        for line in status.splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.split()
        hz = os.sysconf("SC_CLK_TCK")
        _write(
            wire.CountersRecord(
                now,
                self.pid,
                os.getppid(),
                utime / hz,
                stime / hz,
                int(fields.get("voluntary_ctxt_switches", ["0"])[0]),
                int(fields.get("nonvoluntary_ctxt_switches", ["0"])[0]),
                int(fields.get("VmRSS", ["0"])[0]) * 1024,
                int(fields.get("Threads", ["0"])[0]),
            )
        )

    def run(self):
        self.own_tids.add(threading.get_native_id())
        self.proc_stat_fd = os.open("/proc/self/stat", os.O_RDONLY)
        cpu_before = time.thread_time()
        next_tick = time.monotonic()
        next_counters = next_tick
        late = 0
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_counters:
                self.counters(now)
                next_counters = now + COUNTER_EVERY_S
            self.tick(now)
            next_tick += self.interval
            delay = next_tick - time.monotonic()
            if delay < -self.interval:
                missed = int(-delay / self.interval)
                late += missed
                next_tick += missed * self.interval
                delay = next_tick - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
        self.counters(time.monotonic())
        _write(wire.SamplerCostRecord(self.pid, time.thread_time() - cpu_before, late))

    def run_probe(self):
        self.own_tids.add(threading.get_native_id())
        while not self.stop.is_set():
            began = time.perf_counter()
            time.sleep(PROBE_SLEEP_S)
            self.latencies_ms.append(1000 * (time.perf_counter() - began - PROBE_SLEEP_S))
            if len(self.latencies_ms) >= 200:
                self.flush_probe()
            self.stop.wait(0.01)

    def flush_probe(self):
        values = sorted(self.latencies_ms)
        self.latencies_ms = []
        if values:
            p95 = values[len(values) * 95 // 100]
            _write(wire.ProbeRecord(self.pid, len(values), sum(values), p95))

    def finish(self):
        self.stop.set()
        self.thread.join(1.0)
        self.probe.join(1.0)
        self.flush_probe()
        self.write_thread_cpu()

    def write_thread_cpu(self):
        """Each live thread's name and CPU times (but the sampler's own threads')."""
        for thread in threading.enumerate():
            if thread.native_id and thread.native_id not in self.own_tids:
                try:
                    _, utime, stime = _stat(_read("/proc/self/task/%d/stat" % thread.native_id))
                except (OSError, ValueError):
                    continue
                hz = os.sysconf("SC_CLK_TCK")
                _write(
                    wire.ThreadCpuRecord(
                        self.pid, thread.native_id, thread.name, utime / hz, stime / hz
                    )
                )


def start(path, rate_hz, gil):
    """Open the output file and start sampling this process (and its forked children)."""
    _STATE["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.set_inheritable(_STATE["fd"], False)

    def begin():
        sampler = _Sampler(rate_hz, gil)
        _STATE["stop"] = sampler
        sampler.start()

    def in_child():
        # After fork only this thread exists; the file descriptor survives the fork.
        begin()

    os.register_at_fork(after_in_child=in_child)
    import atexit

    atexit.register(finish)
    begin()


def finish():
    sampler = _STATE.get("stop")
    if sampler is not None:
        _STATE["stop"] = None
        sampler.finish()
