"""Ending a launched target gently: SIGINT, then SIGTERM, then SIGKILL, a few seconds apart."""

from __future__ import annotations

import os
import signal
import subprocess
import time

GENTLE_STOP_S = 3.0


def stop_gently(target: subprocess.Popen[bytes], grace_s: float = 0.0) -> int | None:
    """End the target; returns its wait status (None if it could not be reaped).

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


def end_target(target: subprocess.Popen[bytes]) -> None:
    """Make sure a target concdiag started does not outlive a failed run."""
    if target.poll() is None:
        stop_gently(target)
