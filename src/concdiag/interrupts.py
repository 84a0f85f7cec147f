"""Ctrl-C and SIGTERM for the whole run: the first stops sampling, the second quits at once.

While sampling, the first signal raises `Interrupted` so the run ends early and a partial
report is written. After sampling (analysis, writing), the first signal is only noted: the
report is nearly done. A second signal at any time leaves immediately with exit code 130;
files already written are intact because every write is atomic (a rename).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from concdiag.errors import EXIT_INTERRUPTED
from concdiag.fileio import discard_in_flight


class Interrupted(Exception):
    """Raised in the main thread by the first SIGINT/SIGTERM while sampling."""


class StopSignals:
    def __init__(self) -> None:
        self.count = 0
        self.signal_name: str | None = None
        self._armed = False
        self._previous: dict[int, Any] = {}
        #: Processes concdiag launched and must not leave behind on a hard exit.
        self.children: set[int] = set()
        #: Temporary folders concdiag made and must not leave behind on a hard exit.
        self.temp_dirs: set[str] = set()

    def install(self) -> None:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count >= 2:
            os.write(2, b"\nconcdiag: interrupted again, quitting now\n")
            discard_in_flight()
            for pid in self.children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for path in self.temp_dirs:
                shutil.rmtree(path, ignore_errors=True)
            os._exit(EXIT_INTERRUPTED)
        self.signal_name = signal.Signals(signum).name
        if self._armed:
            raise Interrupted()
        os.write(2, b"\nconcdiag: finishing the report (interrupt again to quit now)\n")

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    @contextmanager
    def sampling(self) -> Iterator[None]:
        """Within this block the first signal raises `Interrupted`."""
        installed_here = not self._previous
        self.install()
        self._armed = True
        try:
            if self.count:
                raise Interrupted()
            yield
        finally:
            self._armed = False
            if installed_here:
                self.restore()


#: The process-wide handler; sessions install it for their whole run.
SIGNALS = StopSignals()


@contextmanager
def guarded_run() -> Iterator[StopSignals]:
    """Install the handler for a whole command (sampling, analysis and writing)."""
    SIGNALS.count = 0
    SIGNALS.signal_name = None
    SIGNALS.install()
    try:
        yield SIGNALS
    finally:
        SIGNALS.restore()
