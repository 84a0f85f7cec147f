"""Parsing of /proc files, on recorded text and on this very process."""

from __future__ import annotations

import os

from concdiag.collectors.gil_layout import GIL_STATE_SPAN
from concdiag.collectors.proc_files import parse_stat, parse_syscall


def test_parse_stat_handles_spaces_and_parens_in_the_name() -> None:
    line = "1234 (evil) name (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 57 12 0 0 20 0 3 0"
    assert parse_stat(line) == ("S", 57, 12)


def test_parse_stat_of_this_process() -> None:
    with open(f"/proc/{os.getpid()}/stat") as f:
        state, utime, stime = parse_stat(f.read())
    assert state == "R"
    assert utime >= 0 and stime >= 0


def test_parse_syscall_futex_on_the_gil() -> None:
    gil = 0x7F0000001000
    inside = f"202 {hex(gil + 72)} 0x189 0x0 0x0 0x0 0x0 0x7ffd 0x7f00"
    outside = f"202 {hex(gil + GIL_STATE_SPAN + 8)} 0x189 0x0 0x0 0x0 0x0 0x7ffd 0x7f00"
    assert parse_syscall(inside, gil) == (202, True)
    assert parse_syscall(outside, gil) == (202, False)
    assert parse_syscall(inside, None) == (202, False)


def test_parse_syscall_running_and_not_in_a_syscall() -> None:
    assert parse_syscall("running", 1) == (None, False)
    assert parse_syscall("-1 0x7ffd 0x7f00", 1) == (None, False)
    assert parse_syscall("230 0x1 0x0 0x7ffd 0x0 0x0 0x0 0x7ffd 0x7f00", 1) == (230, False)


#: A parent that forks, between two of the sampler's 0.25 s counter reads, a child that
#: burns 0.3 s of CPU (by its own clock) and exits; the parent outlives it.
FORKS_A_BURNER = """
import os, time
time.sleep(0.1)
pid = os.fork()
if pid == 0:
    start = time.process_time()
    while time.process_time() - start < 0.3:
        pass
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.1)
"""


def test_a_short_lived_child_is_followed_and_its_cpu_counted_to_its_exit() -> None:
    """Found within a few ticks of its fork, and its CPU read to its last tick (not from the
    last 0.25 s counter read, which missed up to all of a short pool worker's CPU)."""
    import subprocess
    import sys
    import time

    from concdiag.collectors.procfs import ProcSampler
    from concdiag.recording.recording import RecordingDraft
    from helpers import target_info

    proc = subprocess.Popen([sys.executable, "-c", FORKS_A_BURNER])
    try:
        recording = RecordingDraft(rate_hz=100.0, target=target_info())
        sampler = ProcSampler(recording, proc.pid, None, {})
        sampler.start()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while not sampler.finished and time.monotonic() < deadline:
            time.sleep(0.02)
        sampler.stop()
    finally:
        proc.kill()
    children = {c.pid for c in recording.counters if c.pid != proc.pid}
    assert len(children) == 1, recording.counters
    (child,) = children
    last = max((c for c in recording.counters if c.pid == child), key=lambda c: c.t_s)
    assert last.cpu_user_s + last.cpu_system_s >= 0.27
    ticks = [t.t_s for t in sampler.ticks if t.pid == child]
    assert len(ticks) >= 20  # followed for most of its 0.3 s, not from a counter read on


class _Exec:
    """A psutil.Process stand-in for a child exec'ing: refused once, then readable."""

    def __init__(self, error: Exception) -> None:
        self.error: Exception | None = error

    def oneshot(self):  # type: ignore[no-untyped-def]
        import contextlib

        return contextlib.nullcontext()

    def cpu_times(self):  # type: ignore[no-untyped-def]
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return (0.5, 0.1)

    def num_ctx_switches(self):  # type: ignore[no-untyped-def]
        return (3, 1)

    def memory_info(self):  # type: ignore[no-untyped-def]
        import types

        return types.SimpleNamespace(rss=1 << 20)

    def num_threads(self) -> int:
        return 1

    def ppid(self) -> int:
        return 1

    def cmdline(self) -> list[str]:
        return ["python3", "-c", "from multiprocessing.forkserver import main; main(3, 4)"]


def test_a_child_refused_for_a_moment_is_read_again_and_one_gone_is_dropped() -> None:
    import psutil

    from concdiag.collectors.procfs import ProcSampler
    from concdiag.recording.recording import RecordingDraft
    from helpers import PID, target_info

    recording = RecordingDraft(rate_hz=100.0, target=target_info())
    sampler = ProcSampler(recording, PID, None, {})
    sampler.follow_children = False
    child = PID + 1
    sampler._psutil = {child: _Exec(psutil.AccessDenied(child))}  # type: ignore[dict-item]
    sampler._read_counters(0.1)  # refused while it execs: kept
    sampler._read_counters(0.2)
    assert recording.commands[child][-1].startswith("from multiprocessing.forkserver")
    assert [c.t_s for c in recording.counters if c.pid == child] == [0.2]
    sampler._psutil = {child: _Exec(psutil.NoSuchProcess(child))}  # type: ignore[dict-item]
    sampler._read_counters(0.3)
    assert child not in sampler._psutil
