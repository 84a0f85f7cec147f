"""The state sampler: per-thread scheduler state, blocking system call and GIL holder.

At each tick, for every process in the target's tree, it reads:

- the GIL word (``locked``, ``last_holder``, ``switch_number``) from the target's memory
  through ``/proc/<pid>/mem``, at the address the bootstrap found;
- for every OS thread, ``/proc/<pid>/task/<tid>/stat`` (state letter, CPU ticks),
  ``/proc/<pid>/task/<tid>/schedstat`` (the scheduler's nanosecond clocks: time on a CPU,
  time runnable waiting for one, timeslices) and, when the thread is not running,
  ``/proc/<pid>/task/<tid>/syscall`` (which system call it is blocked in, and for ``futex``
  whether the address lies inside the GIL state).

It only observes; turning observations into states is the analysis' job. Files are kept
open and re-read with ``pread`` so a tick costs a few system calls per thread. psutil is used
for the slower process counters (context switches, RSS, children), read every few ticks.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Callable

import psutil

from concdiag.agent.inprocess.sampler import COUNTER_EVERY_S
from concdiag.collectors.children import CHILD_SCAN_EVERY_S, ForkWatch, descendants
from concdiag.collectors.cpu_window import CounterWindow, counters_to
from concdiag.collectors.fd_waits import RECHECK_S, TreeEnds, syscall_args
from concdiag.collectors.gil_layout import (
    GilLocation,
    locate_in_child,
    read_head,
)
from concdiag.collectors.proc_files import (
    ProcessFiles,
    ThreadFiles,
    open_gil,
    parse_process_stat,
    parse_schedstat,
    parse_stat,
    parse_syscall,
    read_file,
)
from concdiag.collectors.runtime_reader import FdMemory, read_thread_states
from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import ProcessCounters, ThreadCpu, ThreadObservation, Tick

CLOCK_TICKS_HZ = os.sysconf("SC_CLK_TCK")


#: Nice value for the sampler thread where permitted (root, CAP_SYS_NICE): on a busy machine
#: a starved sampler misses ticks, which become ``unknown`` (docs/measurement.md).
SAMPLER_NICE = -10


def _raise_priority() -> None:
    """Run this thread ahead of ordinary work when allowed; silently keep it otherwise."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SAMPLER_NICE)
    except OSError:
        pass


class ProcSampler:
    """Samples the target's process tree at a fixed rate until told to stop."""

    def __init__(
        self,
        recording: RecordingDraft,
        root_pid: int,
        gil: GilLocation | None,
        ident_to_tid: dict[int, int],
        follow_children: bool = True,
        clock: Callable[[], float] = time.monotonic,
        t0: float | None = None,
        schedstat: bool = True,
    ) -> None:
        self.recording = recording
        #: Read each thread's scheduler clocks every tick (off only to measure their cost).
        self.schedstat = schedstat
        self.root_pid = root_pid
        self.root_gil = gil
        self.ident_to_tid = ident_to_tid
        self.follow_children = follow_children
        self.clock = clock
        self.t0 = clock() if t0 is None else t0
        self.interval_s = 1.0 / recording.rate_hz
        self.stop_event = threading.Event()
        self.ticks_done = 0
        #: Ticks sampled and not yet taken (the tracing collector takes them as chunks).
        self.ticks: list[Tick] = []
        self._processes: dict[int, ProcessFiles] = {}
        self._gone: set[int] = set()
        self._psutil: dict[int, psutil.Process] = {}
        self._thread: threading.Thread | None = None
        self._last_cpu: dict[tuple[int, int], tuple[int, int]] = {}
        self.window = CounterWindow()  # CPU and context switches over the sampled window only
        self._forks = ForkWatch()
        #: Where a blocked thread's pipes and sockets lead: into the tree, or out of it.
        self.tree_ends = TreeEnds(lambda: list(self._processes))
        self._joined = 0  # processes that joined the followed tree so far
        self._next_child_scan = 0.0
        #: Per process: its last counters with the raw CPU psutil read, and its last stat CPU
        #: ticks (one ending between counter reads gets its CPU to its last tick).
        self._last_counters: dict[int, tuple[ProcessCounters, float, float]] = {}
        self._last_stat: dict[int, tuple[int, int]] = {}
        self._gil_tries: dict[int, int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._add_process(self.root_pid, self.root_gil)
        self._thread = threading.Thread(target=self._run, name="concdiag-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def finished(self) -> bool:
        """True once every followed process has gone (the sampler then stops by itself)."""
        return self._thread is not None and not self._thread.is_alive()

    def _run(self) -> None:
        _raise_priority()
        cpu_before = time.thread_time()
        next_tick = self.clock()
        next_counters = next_tick
        try:
            while not self.stop_event.is_set():
                now = self.clock()
                if now >= next_counters:
                    self._read_counters(now - self.t0)
                    next_counters = now + COUNTER_EVERY_S
                elif self.follow_children and now >= self._next_child_scan and self._forks.moved():
                    self._follow_children()
                    self._next_child_scan = now + CHILD_SCAN_EVERY_S
                self._tick(now - self.t0)
                self.window.first_pass = False
                self.ticks_done += 1
                next_tick += self.interval_s
                delay = next_tick - self.clock()
                if delay < -self.interval_s:
                    missed = int(-delay / self.interval_s)
                    self.recording.late_ticks += missed
                    next_tick += missed * self.interval_s
                    delay = next_tick - self.clock()
                if delay > 0:
                    # a plain sleep, one system call (Event.wait takes a lock and a condition
                    # per tick); stop() waits at most one interval for the loop to see the event
                    time.sleep(delay)
                if not self._processes:
                    break
        finally:
            self._read_counters(self.clock() - self.t0)
            for (pid, tid), (utime, stime) in self._last_cpu.items():
                user, system = self.window.since_start((pid, tid), utime, stime)
                self.recording.thread_cpu[(pid, tid)] = ThreadCpu(
                    pid, tid, user / CLOCK_TICKS_HZ, system / CLOCK_TICKS_HZ
                )
            self.recording.sampler_cpu_s += time.thread_time() - cpu_before
            for proc in self._processes.values():
                proc.close()
            self._forks.close()
            self.recording.serving_pids = tuple(sorted(self.tree_ends.serving_pids))
            self.tree_ends.close()

    # -- processes ---------------------------------------------------------------------------

    def _add_process(self, pid: int, gil: GilLocation | None) -> None:
        try:
            stat_fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        except OSError:
            self._gone.add(pid)
            return
        gil, mem_fd = open_gil(pid, gil)
        self._processes[pid] = ProcessFiles(pid, gil, mem_fd, stat_fd)
        self._joined += 1
        self.tree_ends.tree_changed()
        try:
            proc = psutil.Process(pid)
            self._psutil[pid] = proc
            self.recording.commands.setdefault(pid, proc.cmdline())
        except psutil.Error:
            pass

    def _drop_process(self, pid: int) -> None:
        self._counters_at_exit(pid)
        proc = self._processes.pop(pid, None)
        if proc is not None:
            proc.close()
        self.tree_ends.forget(pid)
        self._gone.add(pid)

    def _follow_children(self) -> None:
        """Start following children of the target's tree not followed yet."""
        if not (self.follow_children and self.root_pid in self._psutil):
            return
        for child_pid in descendants(self.root_pid, self._psutil[self.root_pid]):
            if child_pid not in self._processes and child_pid not in self._gone:
                gil = None
                if self.root_gil is not None:
                    gil = locate_in_child(child_pid, self.root_gil)
                self._add_process(child_pid, gil)

    def _read_counters(self, t_s: float) -> None:
        """psutil counters for every process, and new children to follow."""
        self._follow_children()
        for pid, proc in list(self._psutil.items()):
            try:
                with proc.oneshot():
                    cpu = proc.cpu_times()
                    ctx = proc.num_ctx_switches()
                    since = self.window.since_start(pid, *cpu[:2], *ctx[:2])
                    counters = ProcessCounters(
                        t_s=t_s,
                        pid=pid,
                        ppid=proc.ppid(),
                        cpu_user_s=since[0],
                        cpu_system_s=since[1],
                        ctx_voluntary=int(since[2]),
                        ctx_involuntary=int(since[3]),
                        rss_bytes=proc.memory_info().rss,
                        num_threads=proc.num_threads(),
                    )
                    self.recording.counters.append(counters)
                    self._last_counters[pid] = (counters, cpu[0], cpu[1])
                    cmdline = proc.cmdline() if pid != self.root_pid else None
                    if cmdline is not None and (
                        cmdline != self.recording.commands.get(pid) or self._gil_missing(pid)
                    ):
                        self._exec_seen(pid, cmdline)
            except psutil.NoSuchProcess:  # exited (a zombie too)
                del self._psutil[pid]
                self._counters_at_exit(pid)
            except psutil.Error:
                # refused for now: a process exec'ing is briefly unreadable (its /proc files
                # follow its new image's permissions); read it again at the next tick
                continue

    def _gil_missing(self, pid: int) -> bool:
        """A child's GIL not found yet: a spawned worker may still be starting (4 retries)."""
        proc = self._processes.get(pid)
        if proc is None or proc.gil is not None or self.root_gil is None:
            return False
        self._gil_tries[pid] = tries = self._gil_tries.get(pid, 0) + 1
        return tries <= 4

    def _exec_seen(self, pid: int, cmdline: list[str]) -> None:
        """A child found at its fork has exec'd since (a spawned worker), or its GIL was not
        found yet: its GIL is located (again) in its image as it is now."""
        self.recording.commands[pid] = cmdline
        proc = self._processes.get(pid)
        if proc is None or self.root_gil is None:
            return
        if proc.mem_fd is not None:
            os.close(proc.mem_fd)
        proc.gil, proc.mem_fd = open_gil(pid, locate_in_child(pid, self.root_gil))
        proc.holder_cache.clear()

    def _counters_at_exit(self, pid: int) -> None:
        """The process's last counters again, with the CPU its last tick read."""
        last, stat = self._last_counters.pop(pid, None), self._last_stat.pop(pid, None)
        if last is not None and stat is not None:
            final = counters_to(last, stat, CLOCK_TICKS_HZ, self.clock() - self.t0)
            if final is not None:
                self.recording.counters.append(final)

    # -- one tick ----------------------------------------------------------------------------

    def _tick(self, t_s: float) -> None:
        for pid in list(self._processes):
            proc = self._processes[pid]
            try:
                utime, stime, num_threads = parse_process_stat(read_file(proc.stat_fd))
            except (OSError, ValueError, IndexError):
                self._drop_process(pid)
                continue
            self._last_stat[pid] = (utime, stime)
            locked, holder, switches = self._read_gil(proc)
            observations = self._observe_threads(proc, self._gil_flags(proc), num_threads)
            if observations is None:
                self._drop_process(pid)
                continue
            self.ticks.append(Tick(t_s, pid, locked, holder, switches, utime + stime, observations))

    def _read_gil(self, proc: ProcessFiles) -> tuple[bool | None, int | None, int | None]:
        gil = proc.gil
        if gil is None or proc.mem_fd is None:
            return None, None, None
        try:
            head = read_head(os.pread(proc.mem_fd, gil.fields.span, gil.address), 0, gil.fields)
        except (OSError, struct.error):
            self.recording.errors += 1
            return None, None, None
        holder_tid: int | None = None
        locked = head.locked == 1
        if locked and head.last_holder:
            holder_tid = self._holder_tid(proc, gil, head.last_holder)
        return locked, holder_tid, head.switch_number

    def _holder_tid(self, proc: ProcessFiles, gil: GilLocation, holder_ptr: int) -> int | None:
        assert proc.mem_fd is not None
        try:
            if gil.tstate_native_off is not None:
                # a thread state's OS thread is fixed for its life; the cache is emptied when
                # a thread of the process ends (its thread state may be reused)
                cached = proc.holder_cache.get(holder_ptr)
                if cached is not None:
                    return cached
                raw = os.pread(proc.mem_fd, 8, holder_ptr + gil.tstate_native_off)
                tid = int(struct.unpack("<Q", raw)[0])
                if tid in proc.threads:
                    proc.holder_cache[holder_ptr] = tid
                return tid
            if gil.tstate_ident_off is not None:
                raw = os.pread(proc.mem_fd, 8, holder_ptr + gil.tstate_ident_off)
                return self.ident_to_tid.get(struct.unpack("<Q", raw)[0])
        except (OSError, struct.error):
            self.recording.errors += 1
        return None

    def _gil_flags(self, proc: ProcessFiles) -> dict[int, tuple[bool | None, bool | None]]:
        """3.15+: each thread state's own ``holds_gil`` and ``gil_requested``, by OS thread."""
        gil = proc.gil
        if gil is None or gil.threads is None or proc.mem_fd is None:
            return {}
        interp = gil.address - gil.threads.gil_in_interp
        try:
            states = read_thread_states(FdMemory(proc.mem_fd), interp, gil.threads)
        except (OSError, struct.error):
            self.recording.errors += 1
            return {}
        return {s.native_thread_id: (s.holds_gil, s.gil_requested) for s in states}

    def _observe_threads(
        self,
        proc: ProcessFiles,
        gil_flags: dict[int, tuple[bool | None, bool | None]],
        num_threads: int,
    ) -> tuple[ThreadObservation, ...] | None:
        # The thread list is listed again only when the count changed: a thread that ended
        # fails its read below, so a start beside an end is seen a tick later (listing the
        # task folder is 4 of a tick's ~10 system calls per process on a single-thread one).
        if proc.threads and num_threads == len(proc.threads):
            tids = list(proc.threads)
        else:
            try:
                tids = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task")]
            except OSError:
                return None
        gil_address = proc.gil.address if proc.gil is not None else None
        observations = []
        alive = set(tids)
        for tid in tids:
            files = proc.threads.get(tid)
            try:
                if files is None:
                    files = ThreadFiles(f"/proc/{proc.pid}/task/{tid}", self.schedstat)
                    proc.threads[tid] = files
                state, utime, stime = parse_stat(read_file(files.stat_fd))
                clocks: tuple[int | None, int | None, int | None] = (None, None, None)
                if files.schedstat_fd is not None:
                    clocks = parse_schedstat(read_file(files.schedstat_fd, 128))
                syscall: int | None = None
                on_gil = False
                ipc: bool | None = None
                if state != "R" and files.syscall_fd is not None:
                    if files.blocked is not None and clocks[:1] + clocks[2:] == files.blocked[:2]:
                        # not on a CPU since it was last seen blocked (its CPU clock and
                        # timeslices unchanged): it cannot have made another system call
                        syscall, on_gil, ipc = files.blocked[2:]
                        if ipc is False and syscall is not None and self._rejudge(files):
                            # still in the same wait: its other end may be a process found since
                            ipc = self.tree_ends.waits_on_tree(proc.pid, syscall, files.wait_args)
                            files.blocked = (*files.blocked[:4], ipc)
                    else:
                        text = read_file(files.syscall_fd, 256)
                        syscall, on_gil = parse_syscall(text, gil_address)
                        if syscall is not None and not on_gil:
                            files.wait_args = syscall_args(text)
                            files.judged_at = (time.monotonic(), self._joined)
                            ipc = self.tree_ends.waits_on_tree(proc.pid, syscall, files.wait_args)
                        if clocks[0] is not None:
                            files.blocked = (clocks[0], clocks[2], syscall, on_gil, ipc)
                else:
                    files.blocked = None
            except (OSError, ValueError):
                self._forget_thread(proc, tid)
                alive.discard(tid)
                continue
            holds, requested = gil_flags.get(tid, (None, None))
            observations.append(
                ThreadObservation(
                    tid, state, syscall, on_gil, utime + stime, holds, requested, *clocks, ipc
                )
            )
            # the latest ticks only; records are made once, when sampling stops
            self._last_cpu[(proc.pid, tid)] = (utime, stime)
            self.window.note((proc.pid, tid), utime, stime)
        for tid in list(proc.threads):
            if tid not in alive:
                self._forget_thread(proc, tid)
        return tuple(observations)

    def _rejudge(self, files: ThreadFiles) -> bool:
        """A wait judged to lead out of the tree is judged again as soon as a process joins
        the tree (the worker it waits on may be followed only now), and every `RECHECK_S`
        while it lasts."""
        now = time.monotonic()
        at, joined = files.judged_at
        if joined == self._joined and now - at < RECHECK_S:
            return False
        files.judged_at = (now, self._joined)
        return True

    @staticmethod
    def _forget_thread(proc: ProcessFiles, tid: int) -> None:
        proc.holder_cache.clear()
        files = proc.threads.pop(tid, None)
        if files is not None:
            files.close()
