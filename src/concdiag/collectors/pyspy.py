"""The stack sampler: py-spy records every thread's Python stack over time.

py-spy runs as a child of concdiag (so Yama's ``ptrace_scope=1`` lets it read a target that
named concdiag as its tracer) with ``--idle`` (blocked threads too), ``--threads`` (a root
frame naming the OS thread), ``--nonblocking`` (the target is never paused) and the
Chrome-trace format, whose begin/end events give each thread's stack over time. The analysis
joins those stacks with the state sampler's ticks by time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from concdiag.collectors.records import StackChange
from concdiag.interrupts import SIGNALS

# py-spy names the OS thread id, or the pthread id in hex when it cannot find the OS id.
_THREAD_FRAME = re.compile(r"^thread \((0[xX][0-9A-Fa-f]+|\d+)\)(?::\s?(.*))?$")
_PROCESS_FRAME = re.compile(r"^process (\d+):")


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
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.cpu_s = usage.ru_utime + usage.ru_stime
        except ChildProcessError:
            proc.wait(timeout=timeout_s)

    def read_stacks(
        self, t_offset_s: float, ident_to_tid: dict[int, int] | None = None
    ) -> dict[tuple[int, int], list[StackChange]]:
        """Parse the trace; ``t_offset_s`` moves py-spy's clock onto the run's clock."""
        try:
            events = json.loads(self.output.read_text())
        except (OSError, ValueError):
            if self.error is None:
                self.error = "py-spy wrote no readable trace"
            return {}
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            SIGNALS.temp_dirs.discard(self._dir)
        self.thread_names = thread_names(events)
        return parse_chrometrace(events, self.pid, t_offset_s, ident_to_tid or {})


def _die_with_parent() -> None:
    """In py-spy's process before exec: be killed when concdiag dies (PR_SET_PDEATHSIG).

    py-spy samples with --nonblocking, so killing it never leaves the target paused.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def _thread_id(text: str, ident_to_tid: dict[int, int]) -> int | None:
    if text.lower().startswith("0x"):
        return ident_to_tid.get(int(text, 16))
    return int(text)


def parse_chrometrace(
    events: list[dict[str, Any]],
    root_pid: int,
    t_offset_s: float,
    ident_to_tid: dict[int, int] | None = None,
) -> dict[tuple[int, int], list[StackChange]]:
    """Rebuild each thread's stack over time from py-spy's begin/end events.

    py-spy emits, per thread, "E" events for frames that left the stack and "B" events for
    frames that entered it, all with the same timestamp at each sample. The outermost frames
    are its synthetic "process" and "thread (OS id): name" frames, which we strip.
    """
    stacks: dict[tuple[int, int], list[tuple[str, str, int]]] = {}
    os_tid: dict[tuple[int, int], int] = {}
    changes: dict[tuple[int, int], list[StackChange]] = {}
    pending: dict[tuple[int, int], float] = {}

    def flush(key: tuple[int, int], ts: float) -> None:
        tid = os_tid.get(key)
        if tid is None:
            return
        frames = tuple(f for f in stacks.get(key, []) if not _is_synthetic(f[0], f[1]))
        series = changes.setdefault((key[0], tid), [])
        if series and series[-1].t_s == ts:
            series[-1] = StackChange(ts, frames)
        else:
            series.append(StackChange(ts, frames))

    for event in events:
        pid = int(event.get("pid", root_pid))
        key = (pid, int(event["tid"]))
        ts = event["ts"] / 1e6 + t_offset_s
        if key in pending and pending[key] != ts:
            flush(key, pending.pop(key))
        name = str(event.get("name", ""))
        args = event.get("args") or {}
        frame = (name, str(args.get("filename", "")), int(args.get("line") or 0))
        stack = stacks.setdefault(key, [])
        if event.get("ph") == "B":
            match = _THREAD_FRAME.match(name)
            if match:
                tid = _thread_id(match.group(1), ident_to_tid or {})
                if tid is not None:
                    os_tid[key] = tid
            stack.append(frame)
        elif event.get("ph") == "E":
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i:]
                    break
        pending[key] = ts
    for key, ts in pending.items():
        flush(key, ts)
    return changes


def thread_names(events: list[dict[str, Any]]) -> dict[int, str]:
    names: dict[int, str] = {}
    for event in events:
        match = _THREAD_FRAME.match(str(event.get("name", "")))
        if match and match.group(2) and match.group(1).isdigit():
            names[int(match.group(1))] = match.group(2)
    return names


def _is_synthetic(name: str, filename: str) -> bool:
    return not filename and (
        _THREAD_FRAME.match(name) is not None or _PROCESS_FRAME.match(name) is not None
    )
