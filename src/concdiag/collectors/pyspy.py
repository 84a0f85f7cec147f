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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from concdiag.collectors.records import StackChange
from concdiag.interrupts import SIGNALS

# py-spy names the OS thread id, or the pthread id in hex when it cannot find the OS id.
_THREAD_FRAME = re.compile(r"^thread \((0[xX][0-9A-Fa-f]+|\d+)\)(?::\s?(.*))?$")
_PROCESS_FRAME = re.compile(r"^process (\d+):")

Frame = tuple[str, str, int]  # function, file, line


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
        replay = TraceReplay(self.pid, t_offset_s, ident_to_tid or {})
        try:
            replay.feed(iter_trace_events(self.output))
        except (OSError, ValueError):
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


def iter_trace_events(path: Path, block_chars: int = 1 << 20) -> Iterator[dict[str, Any]]:
    """The events of a Chrome trace (one JSON array), decoded a block at a time.

    A minute of a process tree is over 100 MB of trace; decoded whole it would be several
    times that in dicts. py-spy writes each event as ``{"args":...,"ts":N}``, so a block is
    cut before its last ``},{"args":`` (which cannot occur inside a JSON string, where every
    quote is escaped) and decoded in one call; a block with no such cut (another writer's
    layout) is decoded event by event.
    """
    decode = json.JSONDecoder().raw_decode
    with path.open(encoding="utf-8") as file:
        buffer = file.read(block_chars)
        pos = buffer.index("[") + 1
        while True:
            cut = buffer.rfind(_EVENT_CUT, pos)
            if cut >= 0:
                yield from json.loads("[" + buffer[pos : cut + 1] + "]")
                pos = cut + 2
            else:
                while True:
                    while pos < len(buffer) and buffer[pos] in _BETWEEN_EVENTS:
                        pos += 1
                    if buffer.startswith("]", pos):
                        return
                    try:
                        event, pos = decode(buffer, pos)
                    except ValueError:
                        break  # the event runs past the block
                    yield event
            more = file.read(block_chars)
            if not more and cut < 0:
                raise ValueError("the trace ends inside an event")
            buffer, pos = buffer[pos:] + more, 0


_EVENT_CUT = '},{"args":'
_BETWEEN_EVENTS = frozenset(" \t\r\n,")


def _thread_id(text: str, ident_to_tid: dict[int, int]) -> int | None:
    if text.lower().startswith("0x"):
        return ident_to_tid.get(int(text, 16))
    return int(text)


class TraceReplay:
    """Each thread's stack over time, rebuilt from py-spy's begin/end events as py-spy wrote them.

    py-spy (``src/chrometrace.rs``) writes one sample of one thread as "E" events for the
    frames of that thread's previous sample that are gone (innermost first), then "B" events
    for the new ones (outermost first), all at one timestamp and with the sampled process's
    pid. Its "previous sample" is kept per thread id, the pthread id, and *not* per process:
    a forked child's threads have the pthread ids of the parent's (a process pool's workers
    share the parent's main-thread id), so under ``--subprocesses`` a thread's events are
    differences against whichever process's thread was sampled last under that id. So this
    replays them the same way: one stack per thread id, one frame popped per "E" and one
    pushed per "B", whatever their names; each sample's result is the stack py-spy sampled,
    filed under its pid and the OS thread id its ``thread (...)`` root frame names. (Popping
    "E" events by name off a per-process stack, as before, kept frames of the other process
    and stacked every later sample on top of them: stacks hundreds of frames deep.)

    The outermost frames are py-spy's synthetic ``process`` and ``thread`` frames, stripped.
    """

    def __init__(self, root_pid: int, t_offset_s: float, ident_to_tid: dict[int, int]) -> None:
        self.root_pid = root_pid
        self.t_offset_s = t_offset_s
        self.ident_to_tid = ident_to_tid
        self.changes: dict[tuple[int, int], list[StackChange]] = {}
        self.thread_names: dict[int, str] = {}
        self._stacks: dict[int, list[Frame]] = {}  # py-spy's previous sample, per thread id
        self._owner: dict[int, tuple[int, int]] = {}  # thread id -> (pid, OS tid) last sampled
        self._frames: dict[Frame, Frame] = {}  # one tuple per distinct frame

    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        # A sample is the run of events with one (thread id, pid, ts) in which no "E"
        # follows a "B"; hot loop: a minute of a process tree is a million events.
        stacks, frames, root_pid = self._stacks, self._frames, self.root_pid
        sample: tuple[int, int, int] | None = None
        began = False
        stack: list[Frame] = []
        for event in events:
            key = (event["tid"], event.get("pid", root_pid), event["ts"])
            ending = event["ph"] == "E"
            if key != sample or (ending and began):
                if sample is not None:
                    self._close(*sample)
                sample, began = key, False
                stack = stacks.setdefault(key[0], [])
            if ending:
                if stack:
                    stack.pop()
            elif event["ph"] == "B":
                args = event.get("args") or {}
                frame = (event["name"], args.get("filename") or "", args.get("line") or 0)
                stack.append(frames.setdefault(frame, frame))
                began = True
        if sample is not None:
            self._close(*sample)

    def _close(self, thread: int, pid: int, ts_us: int) -> None:
        """The sample of ``thread`` in ``pid`` at ``ts_us`` is complete: record its stack."""
        stack = self._stacks.get(thread, [])
        skip, os_tid = 0, None
        while skip < len(stack) and _is_synthetic(*stack[skip][:2]):
            match = _THREAD_FRAME.match(stack[skip][0])
            skip += 1
            if match:
                os_tid = _thread_id(match.group(1), self.ident_to_tid)
                if match.group(2) and match.group(1).isdigit():
                    self.thread_names[int(match.group(1))] = match.group(2)
                break
        if os_tid is not None:
            self._owner[thread] = (pid, os_tid)
        elif not stack and self._owner.get(thread, (None, 0))[0] == pid:
            os_tid = self._owner[thread][1]  # the thread's last sample ended
        else:
            return
        frames = tuple(stack[skip:])
        t_s = ts_us / 1e6 + self.t_offset_s
        series = self.changes.setdefault((pid, os_tid), [])
        if series and series[-1].frames == frames:
            return  # the same stack again (another process's sample came in between)
        if series and series[-1].t_s == t_s:
            series[-1] = StackChange(t_s, frames)
        else:
            series.append(StackChange(t_s, frames))


def parse_chrometrace(
    events: Iterable[dict[str, Any]],
    root_pid: int,
    t_offset_s: float,
    ident_to_tid: dict[int, int] | None = None,
) -> dict[tuple[int, int], list[StackChange]]:
    """Each thread's stack over time, keyed by (pid, OS tid); see `TraceReplay`."""
    replay = TraceReplay(root_pid, t_offset_s, ident_to_tid or {})
    replay.feed(events)
    return replay.changes


def thread_names(events: Iterable[dict[str, Any]]) -> dict[int, str]:
    """OS thread id -> name, from py-spy's ``thread (...)`` frames."""
    replay = TraceReplay(0, 0.0, {})
    replay.feed(events)
    return replay.thread_names


def _is_synthetic(name: str, filename: str) -> bool:
    return not filename and (
        _THREAD_FRAME.match(name) is not None or _PROCESS_FRAME.match(name) is not None
    )
