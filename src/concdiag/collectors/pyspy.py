"""The stack sampler: py-spy records every thread's Python stack over time.

py-spy runs as a child of concdiag (so Yama's ``ptrace_scope=1`` lets it read a target that
named concdiag as its tracer) with ``--idle`` (blocked threads too), ``--threads`` (a root
frame naming the OS thread), ``--nonblocking`` (the target is never paused) and the
Chrome-trace format, whose begin/end events give each thread's stack over time (read back by
`pyspy_trace`). The analysis joins those stacks with the state sampler's ticks by time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from concdiag.collectors.pyspy_trace import TraceReplay, iter_trace_blocks
from concdiag.interrupts import SIGNALS
from concdiag.recording.records import StackChange


def find_pyspy() -> str | None:
    """py-spy installed beside this interpreter (the venv's bin) first, then on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


class PySpyRecorder:
    def __init__(self, pid: int, rate_hz: float, subprocesses: bool = True) -> None:
        self.pid = pid
        self.rate_hz = rate_hz
        self.subprocesses = subprocesses
        self.error: str | None = None
        self.cpu_s = 0.0
        self._dir = tempfile.mkdtemp(prefix="concdiag-pyspy-")
        SIGNALS.temp_dirs.add(self._dir)
        self.output = Path(self._dir) / "trace.json"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: list[str] = []
        self._attached = threading.Event()
        self.started_monotonic = 0.0
        self.thread_names: dict[int, str] = {}
        self._cpu_at_attach = 0.0

    def start(self, timeout_s: float = 10.0) -> bool:
        """Start py-spy and wait until it samples; False (with ``error`` set) when it cannot."""
        exe = find_pyspy()
        if exe is None:
            self.error = "py-spy is not installed in this environment (pip install py-spy)"
            return False
        cmd = [
            exe,
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(round(self.rate_hz)),
            "--format",
            "chrometrace",
            "--output",
            str(self.output),
            "--idle",
            "--threads",
            "--nonblocking",
            "--full-filenames",
        ]
        if self.subprocesses:
            cmd.append("--subprocesses")
        self.started_monotonic = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the user's Ctrl-C must not kill it before it writes
                preexec_fn=_die_with_parent,  # concdiag killed: py-spy must not linger
            )
        except OSError as exc:
            self.error = f"cannot start py-spy: {exc.strerror}"
            return False
        reader = threading.Thread(target=self._read_log, name="concdiag-pyspy-log", daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._attached.wait(0.02):
                self._cpu_at_attach = self.cpu_so_far()
                return True
            if self._proc.poll() is not None:
                reader.join(timeout=1)
                self.error = self._failure_message()
                return False
        self.error = f"py-spy did not start sampling within {timeout_s:.0f} s"
        self.stop()
        return False

    def _read_log(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self._log.append(line)
            if "Sampling process" in line:
                self._attached.set()

    def _failure_message(self) -> str:
        text = " ".join(self._log[-5:])
        if "Permission denied" in text or "Operation not permitted" in text:
            return (
                "py-spy was not permitted to read the target (ptrace): run concdiag as the "
                "target's user with ptrace allowed (kernel.yama.ptrace_scope<=1), as root, "
                "or with CAP_SYS_PTRACE (docker: --cap-add SYS_PTRACE)"
            )
        return "py-spy failed: " + (text or "no output")

    def stop(self, timeout_s: float = 15.0) -> None:
        """Ask py-spy to write its output (SIGINT) unless it already ended with the target."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        # Reap it with wait4 only, which returns its CPU time: Popen.poll() and send_signal()
        # reap a py-spy that already ended with the target, and its CPU would be lost (the
        # last turn's py-spy would be missing from concdiag's own CPU in the report).
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:  # still running: our unreaped child, so the pid is still its own
                os.kill(proc.pid, signal.SIGINT)
                pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.cpu_s = usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            proc.wait(timeout=timeout_s)

    def cpu_so_far(self) -> float:
        """py-spy's CPU time until now (all its threads), 0 when it cannot be read."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return 0.0
        try:
            times = psutil.Process(proc.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    def sampling_cpu(self) -> float:
        """py-spy's CPU since it began sampling (its start-up, reading the target's binaries,
        left out: a rate is judged by what sampling costs)."""
        return max(0.0, self.cpu_so_far() - self._cpu_at_attach)

    def read_stacks(
        self, t_offset_s: float, ident_to_tid: dict[int, int] | None = None
    ) -> dict[tuple[int, int], list[StackChange]]:
        """Parse the trace; ``t_offset_s`` moves py-spy's clock onto the run's clock."""
        replay = TraceReplay(self.pid, t_offset_s, ident_to_tid or {})
        try:
            for block in iter_trace_blocks(self.output):
                replay.feed(block)
            replay.finish()
        except (OSError, ValueError, KeyError, TypeError):
            if self.error is None:
                self.error = "py-spy wrote no readable trace"
            return {}
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            SIGNALS.temp_dirs.discard(self._dir)
        self.thread_names = replay.thread_names
        return replay.changes


def _die_with_parent() -> None:
    """In py-spy's process before exec: be killed when concdiag dies (PR_SET_PDEATHSIG).

    py-spy samples with --nonblocking, so killing it never leaves the target paused.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass
