"""Launch mode: start the target under the bootstrap, sample it for its whole life.

The target runs as concdiag's child with its own stdin, stdout and stderr, exactly as
``python SCRIPT ARGS`` would. The bootstrap checks the target and reports on an event pipe,
then waits on a control pipe until both samplers are attached, so sampling covers the
script from its first line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from concdiag.collectors.bootstrap_events import BootstrapEvents
from concdiag.collectors.gil_layout import GilLocation
from concdiag.collectors.inprocess import InProcessCollector
from concdiag.collectors.lock_tables import DEADLOCK_AFTER_S, LockSession
from concdiag.collectors.out_of_process import OutOfProcessCollector
from concdiag.collectors.protocol import ChunkSink, Collected, Collector
from concdiag.collectors.remote_interpreter import (
    DEBUG_OFFSETS_FROM,
    inspect_target,
    locate_gil,
    major_minor,
)
from concdiag.collectors.target_control import end_target, stop_gently
from concdiag.collectors.target_invocation import TargetInvocation
from concdiag.collectors.threads import ThreadSightings, register_threads
from concdiag.collectors.yappi_tables import DeepSession
from concdiag.errors import ConcdiagError, UsageError
from concdiag.interrupts import SIGNALS, Interrupted
from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import Chunk, CollectorNote, TargetInfo

#: How often the launcher checks on the target, the duration and the collector.
POLL_S = 0.05
#: py-spy failures after which the in-process collector runs instead: tracing denied, or a
#: Python version this py-spy cannot read (its words: "Unsupported version of Python: X").
PYSPY_GIVES_WAY = ("not permitted", "Unsupported version of Python")


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    invocation: TargetInvocation
    rate_hz: float
    duration_s: float | None
    deep_clock: str | None = None  # run yappi in the target (--deep) with this clock
    collector: str = "auto"  # auto (out of process, in-process when tracing is denied), inprocess
    locks: bool = True  # track locks inside the target (agent/locks/)
    deadlock_after_s: float | None = DEADLOCK_AFTER_S  # None: no deadlock detection
    extra_env: tuple[tuple[str, str], ...] = ()  # more environment for the bootstrap (whatif)


def check_interpreter(python: str) -> None:
    """Fail early, in one line, when --python does not name a usable Python."""
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"{python} is not a runnable Python interpreter ({exc})") from exc
    try:
        major, minor = (int(x) for x in out.stdout.split())
    except ValueError:
        raise UsageError(f"{python} is not a Python interpreter") from None
    if (major, minor) < (3, 10):
        raise UsageError(f"{python} is Python {major}.{minor}; concdiag needs Python 3.10 or newer")


def launch(
    request: LaunchRequest,
    sink: ChunkSink,
    progress: Callable[[float, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> Collected:
    """Run the target to its end (or --duration, or an interrupt), feeding ``sink`` chunks."""
    control_r, control_w = os.pipe()
    event_r, event_w = os.pipe()
    env = dict(os.environ)
    env["CONCDIAG_PROBE"] = f"{control_r},{event_w},{os.getpid()}"
    env.update(request.extra_env)
    deep = DeepSession(request.deep_clock) if request.deep_clock else None
    if deep is not None:
        env["CONCDIAG_DEEP"] = deep.env_value()
    locks = LockSession(request.deadlock_after_s) if request.locks else None
    if locks is not None:
        env["CONCDIAG_LOCKS"] = locks.env_value()
    inprocess_dir = Path(tempfile.mkdtemp(prefix="concdiag-inprocess-"))
    inprocess_path = inprocess_dir / "samples.jsonl"
    env["CONCDIAG_INPROCESS"] = f"{inprocess_path},{request.rate_hz:g}"
    argv = request.invocation.argv()
    cpu_at_start = time.process_time()
    try:
        target = subprocess.Popen(argv, pass_fds=(control_r, event_w), env=env)
    except OSError as exc:
        for fd in (control_r, control_w, event_r, event_w):
            os.close(fd)
        shutil.rmtree(inprocess_dir, ignore_errors=True)
        if locks is not None:
            locks.cleanup()
        raise UsageError(f"cannot start {request.invocation.interpreter}: {exc.strerror}") from exc
    os.close(control_r)
    os.close(event_w)
    SIGNALS.children.add(target.pid)
    SIGNALS.temp_dirs.add(str(inprocess_dir))
    events = BootstrapEvents(event_r)
    try:
        run = _Run(request, target, events, sink, cpu_at_start)
        collected = run.supervise(control_w, progress, inprocess_path)
        if deep is not None:
            _read_deep(deep, events, collected, notice)
        if locks is not None:
            _read_locks(locks, events, collected)
        collected.recording.shipping = events.shipping.pools()
        return collected
    except BaseException:
        end_target(target)
        raise
    finally:
        SIGNALS.children.discard(target.pid)
        if deep is not None:
            deep.cleanup()
        if locks is not None:
            locks.cleanup()
        SIGNALS.temp_dirs.discard(str(inprocess_dir))
        shutil.rmtree(inprocess_dir, ignore_errors=True)


def _read_deep(
    deep: DeepSession,
    events: BootstrapEvents,
    collected: Collected,
    notice: Callable[[str], None] | None,
) -> None:
    """Deep mode's tables, or one line saying why there are none; never fails the run."""
    status = (events.hello or {}).get("deep") or {"ok": False, "detail": "no answer from probe"}
    if not status.get("ok"):
        detail = str(status.get("detail", "yappi unavailable"))
        collected.notes.append(CollectorNote("yappi", False, detail))
        if notice is not None:
            notice(f"--deep: {detail}; profiled without deep data")
        return
    run, why = deep.read()
    if run is None:
        collected.notes.append(CollectorNote("yappi", False, why or "no tables"))
        if notice is not None:
            notice(f"--deep: {why}")
        return
    collected.recording.yappi = run
    detail = f"{status.get('detail', 'yappi')}, {run.clock} clock ({run.clock_reason})"
    collected.notes.append(CollectorNote("yappi", True, detail))


def _read_locks(locks: LockSession, events: BootstrapEvents, collected: Collected) -> None:
    """The lock tracker's tables, or a note saying why there are none; never fails the run."""
    status = (events.hello or {}).get("locks") or {"ok": False, "detail": "no answer"}
    if not status.get("ok") or events.locks_failed:
        detail = events.locks_failed or str(status.get("detail", "lock tracker unavailable"))
        collected.notes.append(CollectorNote("locks", False, detail))
        return
    tables, why = locks.read()
    if tables is None:
        collected.notes.append(CollectorNote("locks", False, why or "no tables"))
        return
    collected.recording.locks = tables
    after = tables.deadlock_after_s
    detail = (
        f"lock tracker: {len(tables.sites)} lock sites, 1 in {tables.sample_every} "
        "uncontended acquisitions timed, "
        + (f"deadlock after {after:g} s" if after is not None else "no deadlock detection")
    )
    collected.notes.append(CollectorNote("locks", True, detail))


def _locate_gil(hello: dict[str, Any], pid: int) -> tuple[GilLocation | None, str]:
    """Where the GIL is: from the debug offsets (3.13+), else where the bootstrap found it."""
    if (major_minor(str(hello["version"])) or (0, 0)) >= DEBUG_OFFSETS_FROM:
        try:
            return locate_gil(inspect_target(pid))
        except ConcdiagError as exc:
            return None, exc.message
    if not hello.get("gil_addr"):
        return None, str(hello.get("gil_error") or "GIL state not found in the interpreter")
    location = GilLocation(
        address=int(hello["gil_addr"]),
        tstate_native_off=hello.get("tstate_native_off"),
        tstate_ident_off=hello.get("tstate_ident_off"),
        mapping=hello.get("gil_mapping"),
        offset=hello.get("gil_offset"),
        interval_us=round(float(hello["switch_interval_s"]) * 1e6),
    )
    return location, ""


class _Run:
    """One launched target from its hello to its end, with the collector that watches it."""

    def __init__(
        self,
        request: LaunchRequest,
        target: subprocess.Popen[bytes],
        events: BootstrapEvents,
        sink: ChunkSink,
        cpu_at_start: float,
    ) -> None:
        self.request = request
        self.target = target
        self.events = events
        self.sink = sink
        self.cpu_at_start = cpu_at_start
        self.sightings = ThreadSightings()
        self.t0 = self.go_t = 0.0

    def supervise(
        self,
        control_w: int,
        progress: Callable[[float, int], None] | None,
        inprocess_path: Path,
    ) -> Collected:
        request, target = self.request, self.target
        hello = self.events.wait_for_hello(target)
        gil, gil_why = _locate_gil(hello, target.pid)
        info = TargetInfo(
            pid=target.pid,
            executable=str(hello["executable"]),
            version=str(hello["version"]),
            implementation=str(hello["implementation"]),
            gil_enabled=bool(hello["gil_enabled"]),
            free_threaded_build=bool(hello["free_threaded_build"]),
            switch_interval_s=float(hello["switch_interval_s"]),
            gil_found=gil is not None,
            main_tid=int(hello["main_tid"]),
        )
        self.recording = recording = RecordingDraft(rate_hz=request.rate_hz, target=info)
        if gil is None and info.gil_enabled:
            recording.notes.append(f"GIL holder not measured: {gil_why}")
        started_at = datetime.now(timezone.utc)
        self.t0 = time.monotonic()
        collector = self._collector(gil, inprocess_path)
        self.go_t = time.monotonic()
        os.write(control_w, b"i" if isinstance(collector, InProcessCollector) else b"g")
        os.close(control_w)

        collected = Collected(recording, started_at, started_at)
        status = self._wait(collected, collector, progress)
        # concdiag's own CPU while the target ran; the report comes after and does not
        # compete with it.
        cpu_during_run = time.process_time() - self.cpu_at_start
        if status is not None:
            if os.WIFSIGNALED(status):
                collected.exit_signal = os.WTERMSIG(status)
            else:
                collected.exit_code = os.waitstatus_to_exitcode(status)
        collected.ended_at = datetime.now(timezone.utc)
        recording.duration_s = time.monotonic() - self.t0
        self.events.join(timeout=1.0)
        collected.uncaught = self.events.uncaught
        self._hand_over(collector.stop(), collector)
        collected.notes = collector.notes
        collected.concdiag_cpu_s = cpu_during_run + collector.cpu_s
        collected.stack_sampler_cpu_s = collector.cpu_s
        recording.sampler_cpu_s = collected.concdiag_cpu_s
        return collected

    def _collector(self, gil: GilLocation | None, inprocess_path: Path) -> Collector:
        """The out-of-process collector, or the in-process one when tracing is denied or forced."""
        reason = _inprocess_reason(self.request, self.target.pid, gil)
        if reason is None:
            outside = OutOfProcessCollector(
                self.recording,
                self.target.pid,
                gil,
                self.events.ident_to_tid,
                self.t0,
            )
            outside.start()
            error = outside.pyspy_error
            if not (error and any(sign in error for sign in PYSPY_GIVES_WAY)):
                return outside
            # tracing is denied, or py-spy cannot read this Python: the target samples itself
            reason = error
            outside.stop_before_go()
        self.recording.notes.append(f"in-process collector used: {reason}")
        return InProcessCollector(self.recording, inprocess_path, self.t0)

    def _hand_over(self, chunk: Chunk, collector: Collector) -> None:
        """Tell the accounting what is known of threads, then give it the chunk."""
        started = self.events.started_t if self.events.started_t is not None else self.go_t
        self.recording.start_s = started - self.t0
        turned_on = self.events.gil_turned_on(self.t0)
        if turned_on and not self.recording.target.gil_enabled:
            # from here on the GIL is read as on any build; ticks before it saw it free
            self.recording.target = replace(self.recording.target, gil_enabled=True)
            self.recording.notes.append(turned_on)
        self.events.update(self.sightings, self.t0)
        if isinstance(collector, OutOfProcessCollector):
            self.sightings.stack_names.update(collector.stack_names)
        self.sightings.see(chunk)
        register_threads(self.recording, self.sightings)
        self.sink(self.recording, chunk)

    def _wait(
        self,
        collected: Collected,
        collector: Collector,
        progress: Callable[[float, int], None] | None,
    ) -> int | None:
        """Wait for the target, handling --duration, the user's interrupts and chunks."""
        target, request = self.target, self.request
        try:
            with SIGNALS.sampling():
                while True:
                    pid, status = os.waitpid(target.pid, os.WNOHANG)
                    if pid == target.pid:
                        target.returncode = os.waitstatus_to_exitcode(status)
                        return status
                    elapsed = time.monotonic() - self.t0
                    if progress is not None:
                        progress(elapsed, collector.ticks_done)
                    if self.events.deadlock is not None:
                        collected.deadlock = True
                        collected.partial_reasons.append(
                            "a deadlock was found (a wait-for cycle lasting "
                            f"{request.deadlock_after_s:g} s); the target was ended"
                        )
                        return stop_gently(target)
                    if request.duration_s is not None and elapsed >= request.duration_s:
                        collected.stopped_by_duration = True
                        collected.partial_reasons.append(
                            f"sampling stopped after --duration {request.duration_s:g} s; "
                            "the target was ended"
                        )
                        return stop_gently(target)
                    chunk = collector.poll()
                    if chunk is not None:
                        self._hand_over(chunk, collector)
                    time.sleep(POLL_S)
        except Interrupted:
            collected.interrupted = True
            by = SIGNALS.signal_name or "an interrupt"
            collected.partial_reasons.append(f"interrupted by {by} before the target ended")
            return stop_gently(target, grace_s=1.0)


def _inprocess_reason(request: LaunchRequest, pid: int, gil: GilLocation | None) -> str | None:
    """Why the in-process collector must run instead of the tracers, or None."""
    if request.collector == "inprocess":
        return "forced with --collector inprocess"
    if os.environ.get("CONCDIAG_FORCE_INPROCESS") == "1":
        return "forced with CONCDIAG_FORCE_INPROCESS=1"
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
        try:
            if gil is not None:
                os.pread(fd, 8, gil.address)
        finally:
            os.close(fd)
    except PermissionError:
        return "reading the target's memory is not permitted (no ptrace)"
    except OSError:
        pass
    return None
