"""Launch mode: start the target under the bootstrap, sample it for its whole life.

The target runs as concdiag's child with its own stdin, stdout and stderr, exactly as
``python SCRIPT ARGS`` would. The bootstrap checks the target and reports on an event pipe,
then waits on a control pipe until both samplers are attached, so sampling covers the
script from its first line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from concdiag.collectors.inprocess import LIMITS, read_inprocess
from concdiag.collectors.procfs import GilLocation, ProcSampler
from concdiag.collectors.pyspy import PySpyRecorder
from concdiag.collectors.records import Recording, TargetInfo, ThreadInfo
from concdiag.collectors.yappi_tables import DeepSession
from concdiag.errors import CannotProfileError, UsageError
from concdiag.interrupts import SIGNALS, Interrupted

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
HELLO_TIMEOUT_S = 60.0
GENTLE_STOP_S = 3.0


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    python: str
    target: str
    module: bool
    args: tuple[str, ...]
    rate_hz: float
    duration_s: float | None
    use_pyspy: bool = True
    deep_clock: str | None = None  # run yappi in the target (--deep) with this clock
    collector: str = "auto"  # auto (out of process, in-process when tracing is denied), inprocess


@dataclass
class LaunchResult:
    recording: Recording
    exit_code: int | None
    exit_signal: int | None
    started_at: datetime
    ended_at: datetime
    partial_reasons: list[str] = field(default_factory=list)
    collectors: list[tuple[str, bool, str]] = field(default_factory=list)
    interrupted: bool = False
    stopped_by_duration: bool = False
    concdiag_cpu_s: float = 0.0
    start_s: float = 0.0  # when the target's own code began, on the run's clock


class _Events:
    """Reads the bootstrap's JSON lines in a thread and keeps what they say."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.hello: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.started_t: float | None = None
        self.ready = threading.Event()
        self.threads: dict[tuple[int, int], dict[str, Any]] = {}
        self.exit_names: dict[int, dict[int, str]] = {}
        self.ident_to_tid: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, name="concdiag-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with os.fdopen(self.fd, "rb") as stream:
            for raw in stream:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                self._handle(message)
        self.ready.set()

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        pid = int(message.get("pid", 0))
        if kind == "hello" and self.hello is None:
            self.hello = message
            self.ident_to_tid[int(message["main_ident"])] = int(message["main_tid"])
            self.ready.set()
        elif kind == "error":
            self.error = message
            self.ready.set()
        elif kind == "started":
            self.started_t = float(message["t"])
        elif kind in ("thread_start", "thread_end"):
            tid = int(message["tid"])
            self.ident_to_tid[int(message["ident"])] = tid
            entry = self.threads.setdefault((pid, tid), {"ident": int(message["ident"])})
            entry["name"] = str(message.get("name", ""))
            entry["start" if kind == "thread_start" else "end"] = float(message["t"])
        elif kind == "exit":
            names = message.get("names") or {}
            self.exit_names[pid] = {int(k): str(v) for k, v in names.items()}

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


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
    progress: Callable[[float, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> LaunchResult:
    control_r, control_w = os.pipe()
    event_r, event_w = os.pipe()
    env = dict(os.environ)
    env["CONCDIAG_PROBE"] = f"{control_r},{event_w},{os.getpid()}"
    deep = DeepSession(request.deep_clock) if request.deep_clock else None
    if deep is not None:
        env["CONCDIAG_DEEP"] = deep.env_value()
    inprocess_dir = Path(tempfile.mkdtemp(prefix="concdiag-inprocess-"))
    inprocess_path = inprocess_dir / "samples.jsonl"
    env["CONCDIAG_INPROCESS"] = f"{inprocess_path},{request.rate_hz:g}"
    argv = [request.python, str(BOOTSTRAP)]
    if request.module:
        argv.append("-m")
    argv += [request.target, *request.args]
    cpu_at_start = time.process_time()
    try:
        target = subprocess.Popen(argv, pass_fds=(control_r, event_w), env=env)
    except OSError as exc:
        os.close(control_r)
        os.close(control_w)
        os.close(event_r)
        os.close(event_w)
        shutil.rmtree(inprocess_dir, ignore_errors=True)
        raise UsageError(f"cannot start {request.python}: {exc.strerror}") from exc
    os.close(control_r)
    os.close(event_w)
    SIGNALS.children.add(target.pid)
    SIGNALS.temp_dirs.add(str(inprocess_dir))
    events = _Events(event_r)
    try:
        result = _supervise(
            request, target, events, control_w, progress, cpu_at_start, inprocess_path
        )
        if deep is not None:
            _read_deep(deep, events, result, notice)
        return result
    except BaseException:
        _end_target(target)
        raise
    finally:
        SIGNALS.children.discard(target.pid)
        if deep is not None:
            deep.cleanup()
        SIGNALS.temp_dirs.discard(str(inprocess_dir))
        shutil.rmtree(inprocess_dir, ignore_errors=True)


def _read_deep(
    deep: DeepSession,
    events: _Events,
    result: LaunchResult,
    notice: Callable[[str], None] | None,
) -> None:
    """Deep mode's tables, or one line saying why there are none; never fails the run."""
    status = (events.hello or {}).get("deep") or {"ok": False, "detail": "no answer from probe"}
    if not status.get("ok"):
        detail = str(status.get("detail", "yappi unavailable"))
        result.collectors.append(("yappi", False, detail))
        if notice is not None:
            notice(f"--deep: {detail}; profiled without deep data")
        return
    run, why = deep.read()
    if run is None:
        result.collectors.append(("yappi", False, why or "no tables"))
        if notice is not None:
            notice(f"--deep: {why}")
        return
    result.recording.yappi = run
    result.collectors.append(
        ("yappi", True, f"{status.get('detail', 'yappi')}, {run.clock} clock ({run.clock_reason})")
    )


def _wait_for_hello(target: subprocess.Popen[bytes], events: _Events) -> dict[str, Any]:
    deadline = time.monotonic() + HELLO_TIMEOUT_S
    while not events.ready.wait(0.05):
        if target.poll() is not None or time.monotonic() > deadline:
            break
    if events.error is not None:
        target.wait()
        raise UsageError(str(events.error.get("message", "the target could not start")))
    if events.hello is None:
        code = target.poll()
        if code is None:
            raise CannotProfileError("the target interpreter did not start within 60 s")
        raise CannotProfileError(
            f"the target interpreter exited (status {code}) before running the script"
        )
    return events.hello


def _supervise(
    request: LaunchRequest,
    target: subprocess.Popen[bytes],
    events: _Events,
    control_w: int,
    progress: Callable[[float, int], None] | None,
    cpu_at_start: float,
    inprocess_path: Path,
) -> LaunchResult:
    hello = _wait_for_hello(target, events)
    gil: GilLocation | None = None
    if hello.get("gil_addr"):
        gil = GilLocation(
            address=int(hello["gil_addr"]),
            tstate_native_off=hello.get("tstate_native_off"),
            tstate_ident_off=hello.get("tstate_ident_off"),
            mapping=hello.get("gil_mapping"),
            offset=hello.get("gil_offset"),
            interval_us=round(float(hello["switch_interval_s"]) * 1e6),
        )
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
    recording = Recording(rate_hz=request.rate_hz, target=info)
    collectors: list[tuple[str, bool, str]] = []
    if gil is None and info.gil_enabled:
        why = hello.get("gil_error") or "GIL state not found in the interpreter"
        recording.notes.append(f"GIL holder not measured: {why}")
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    inprocess = _inprocess_reason(request, target.pid, gil)
    sampler: ProcSampler | None = None
    pyspy: PySpyRecorder | None = None
    if inprocess is None:
        sampler = ProcSampler(recording, target.pid, gil, events.ident_to_tid, t0=t0)
        sampler.start()
        collectors.append(
            ("procfs", True, "thread states, blocking calls" + (", GIL holder" if gil else ""))
        )
        if request.use_pyspy:
            pyspy = PySpyRecorder(target.pid, request.rate_hz)
            if pyspy.start():
                collectors.append(("py-spy", True, "Python stacks of every thread"))
            elif pyspy.error and "not permitted" in pyspy.error:
                # Tracing is denied: let the target sample itself instead.
                inprocess = pyspy.error
                sampler.stop()
                sampler = pyspy = None
                recording.ticks.clear()
                recording.counters.clear()
                recording.thread_cpu.clear()
                collectors.clear()
            else:
                collectors.append(("py-spy", False, pyspy.error or "failed"))
                recording.notes.append(f"no Python stacks: {pyspy.error}")
                pyspy = None
    if inprocess is not None:
        collectors.append(("inprocess", True, LIMITS))
        recording.notes.append(f"in-process collector used: {inprocess}")
    go_t = time.monotonic()
    os.write(control_w, b"i" if inprocess is not None else b"g")
    os.close(control_w)

    result = LaunchResult(
        recording=recording,
        exit_code=None,
        exit_signal=None,
        started_at=started_at,
        ended_at=started_at,
        collectors=collectors,
    )
    status = _wait_target(target, request, result, sampler, progress, t0)
    # concdiag's own CPU while the target ran; parsing and reporting come after and do not
    # compete with it.
    cpu_during_run = time.process_time() - cpu_at_start
    if status is not None:
        if os.WIFSIGNALED(status):
            result.exit_signal = os.WTERMSIG(status)
        else:
            result.exit_code = os.waitstatus_to_exitcode(status)
    result.ended_at = datetime.now(timezone.utc)
    recording.duration_s = time.monotonic() - t0
    if sampler is not None:
        sampler.stop()
    events.join(timeout=1.0)
    if inprocess is not None:
        read_inprocess(inprocess_path, recording, t0)  # thread names come from the events
    if pyspy is not None:
        pyspy.stop()
        # py-spy's trace clock starts when it starts: place it on the run's clock.
        offset = pyspy.started_monotonic - t0
        recording.stacks = pyspy.read_stacks(offset, events.ident_to_tid)
        if pyspy.error:
            recording.notes.append(pyspy.error)
    _register_threads(recording, events, t0)
    result.start_s = (events.started_t if events.started_t is not None else go_t) - t0
    recording.start_s = result.start_s
    pyspy_cpu = pyspy.cpu_s if pyspy is not None else 0.0
    if inprocess is not None:
        pyspy_cpu = recording.sampler_cpu_s  # the in-process sampler's own CPU, in the target
    result.concdiag_cpu_s = cpu_during_run + pyspy_cpu
    recording.sampler_cpu_s = result.concdiag_cpu_s
    return result


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


def _register_threads(recording: Recording, events: _Events, t0: float) -> None:
    main_tid = recording.target.main_tid
    seen = {(t.pid, o.tid) for t in recording.ticks for o in t.threads}
    python_tids = {key for key in events.threads} | {(recording.target.pid, main_tid)}
    python_tids |= set(recording.stacks)
    for pid, tid in sorted(seen | set(events.threads)):
        entry = events.threads.get((pid, tid), {})
        name = events.exit_names.get(pid, {}).get(tid) or entry.get("name")
        is_main = tid == pid
        if not name:
            name = "MainThread" if is_main and (pid, tid) in python_tids else f"thread-{tid}"
        recording.threads[(pid, tid)] = ThreadInfo(
            pid=pid,
            tid=tid,
            name=name,
            ident=entry.get("ident"),
            # A child's main thread is Python only if py-spy or the bootstrap saw it: a
            # subprocess running `sleep` or `git` is not.
            python=(pid, tid) in python_tids,
            is_main=is_main,
            started_s=(entry["start"] - t0) if "start" in entry else None,
            ended_s=(entry["end"] - t0) if "end" in entry else None,
        )


def _wait_target(
    target: subprocess.Popen[bytes],
    request: LaunchRequest,
    result: LaunchResult,
    sampler: ProcSampler | None,
    progress: Callable[[float, int], None] | None,
    t0: float,
) -> int | None:
    """Wait for the target, handling --duration and the user's interrupts."""
    try:
        with SIGNALS.sampling():
            while True:
                pid, status = os.waitpid(target.pid, os.WNOHANG)
                if pid == target.pid:
                    target.returncode = os.waitstatus_to_exitcode(status)
                    return status
                elapsed = time.monotonic() - t0
                if progress is not None:
                    progress(elapsed, sampler.ticks_done if sampler is not None else 0)
                if request.duration_s is not None and elapsed >= request.duration_s:
                    result.stopped_by_duration = True
                    result.partial_reasons.append(
                        f"sampling stopped after --duration {request.duration_s:g} s; "
                        "the target was ended"
                    )
                    return _stop_gently(target)
                time.sleep(0.05)
    except Interrupted:
        result.interrupted = True
        by = SIGNALS.signal_name or "an interrupt"
        result.partial_reasons.append(f"interrupted by {by} before the target ended")
        return _stop_gently(target, grace_s=1.0)


def _stop_gently(target: subprocess.Popen[bytes], grace_s: float = 0.0) -> int | None:
    """SIGINT, then SIGTERM, then SIGKILL, a few seconds apart; returns the wait status.

    With ``grace_s`` it first waits that long: a terminal's Ctrl-C already reached the target.
    """
    for sig in (None, signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if sig is None and grace_s <= 0:
            continue
        if sig is not None:
            try:
                target.send_signal(sig)
            except ProcessLookupError:
                break
        deadline = time.monotonic() + (grace_s if sig is None else GENTLE_STOP_S)
        while time.monotonic() < deadline:
            try:
                pid, status, _ = os.wait4(target.pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid == target.pid:
                target.returncode = os.waitstatus_to_exitcode(status)
                return status
            time.sleep(0.05)
    return None


def _end_target(target: subprocess.Popen[bytes]) -> None:
    if target.poll() is None:
        _stop_gently(target)
