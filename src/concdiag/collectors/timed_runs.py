"""``concdiag whatif``'s reruns: the target under the bare interpreter plus the pool swap.

No sampler, py-spy or event pipe runs: the bootstrap (``CONCDIAG_BARE=1``) only loads
``agent/pools/swap.py`` and runs the script, so what is timed is the program, not concdiag. A
run's wall time goes from the moment the script is about to start (the target notes it on
the system-wide monotonic clock) to the process's exit, so the interpreter's own start-up is
left out; its CPU time is the kernel's accounting of the process and the children it waited
for (pool workers), start-up included. Standard input is /dev/null; standard output is
kept only as a digest, to compare results between alternatives; the end of standard error
is kept to say why a run failed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from concdiag.collectors.swap_report import BARE_ENV, SWAP_ENV, read_swap_report, swap_env
from concdiag.collectors.target_control import GENTLE_STOP_S, stop_gently
from concdiag.collectors.target_invocation import TargetInvocation
from concdiag.interrupts import SIGNALS, Interrupted
from concdiag.recording.whatif import TimedRun

#: Bytes of a failed run's standard error kept to say why: a stated choice, a few lines.
STDERR_TAIL_BYTES = 2000


def stdin_kind() -> str:
    """What concdiag's standard input is: devnull, closed, file, tty, or pipe (anything else)."""
    try:
        mine = os.fstat(0)
    except OSError:
        return "closed"
    if os.isatty(0):
        return "tty"
    if stat.S_ISREG(mine.st_mode):
        return "file"
    try:
        null = os.stat(os.devnull)
    except OSError:
        return "pipe"
    if stat.S_ISCHR(mine.st_mode) and mine.st_rdev == null.st_rdev:
        return "devnull"
    return "pipe"


def stdin_offset() -> int | None:
    """The shared offset of a regular-file stdin (it moves when the target reads it)."""
    try:
        return os.lseek(0, 0, os.SEEK_CUR)
    except OSError:
        return None


def _escalate(pid: int, done: threading.Event, limit_s: float, fired: list[bool]) -> None:
    """After ``limit_s``, end the run gently: SIGINT, SIGTERM, SIGKILL a few seconds apart."""
    if done.wait(limit_s):
        return
    fired.append(True)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            return
        if done.wait(GENTLE_STOP_S):
            return


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            sha.update(block)
    return sha.hexdigest()


def _last_line(path: Path) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - STDERR_TAIL_BYTES))
        tail = handle.read().decode("utf-8", "replace")
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def timed_run(
    invocation: TargetInvocation,
    kind: str,
    workers: int | None,
    limit_s: float,
    workdir: Path,
    expected_code: int = 0,
) -> TimedRun:
    """Run the target once with its pools made ``kind`` (``workers`` each), and time it."""
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    report = folder / "swap.jsonl"
    env = dict(os.environ)
    env[BARE_ENV] = "1"
    env[SWAP_ENV] = swap_env(kind, workers, report)
    argv = invocation.argv()
    done = threading.Event()
    fired: list[bool] = []
    with (folder / "stdout").open("wb") as out, (folder / "stderr").open("wb") as err:
        start = time.monotonic()
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        SIGNALS.children.add(child.pid)
        timer = threading.Thread(
            target=_escalate, args=(child.pid, done, limit_s, fired), daemon=True
        )
        timer.start()
        try:
            with SIGNALS.sampling():
                _, status, usage = os.wait4(child.pid, 0)
        except Interrupted:
            done.set()
            stop_gently(child, grace_s=1.0)  # a terminal's Ctrl-C reached it too
            raise
        finally:
            ended = time.monotonic()
            done.set()
            SIGNALS.children.discard(child.pid)
        child.returncode = os.waitstatus_to_exitcode(status)
    signalled = os.WIFSIGNALED(status)
    seen = read_swap_report(report)
    if seen.started_t is not None and start <= seen.started_t <= ended:
        start = seen.started_t
    return TimedRun(
        wall_s=ended - start,
        cpu_s=usage.ru_utime + usage.ru_stime,
        exit_code=None if signalled else os.waitstatus_to_exitcode(status),
        exit_signal=os.WTERMSIG(status) if signalled else None,
        timed_out=bool(fired),
        stdout_digest=_digest(folder / "stdout"),
        stderr_last=_last_line(folder / "stderr"),
        report=seen,
        expected_code=expected_code,
    )
