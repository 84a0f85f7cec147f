"""What the bootstrap inside a launched target says on its event pipe, read in a thread.

The bootstrap sends JSON lines: ``hello`` (interpreter, GIL location), ``error`` (the target
cannot start), ``started`` (the script's first line runs), ``thread_start``/``thread_end``,
``gil_enabled`` (a free-threaded build turned the GIL back on to import a module),
``deadlock`` (the lock tracker found one), ``locks_failed``, ``uncaught`` (an exception ended
the script), ``task_shipping`` and ``task_counts`` (what thread pools' tasks would cost to
pickle, and how many ran) and, at exit, the final thread names and whether the GIL was on.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from typing import Any

from concdiag.collectors.threads import ThreadSightings
from concdiag.errors import CannotProfileError, UsageError
from concdiag.recording.shipping import ShippingDraft

HELLO_TIMEOUT_S = 60.0


class BootstrapEvents:
    """Reads the bootstrap's JSON lines in a thread and keeps what they say."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.hello: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.started_t: float | None = None
        #: The lock tracker's deadlock message, when it found one; why tracking failed.
        self.deadlock: dict[str, Any] | None = None
        self.locks_failed: str | None = None
        self.ready = threading.Event()
        self.threads: dict[tuple[int, int], dict[str, Any]] = {}
        self.exit_names: dict[int, dict[int, str]] = {}
        self.ident_to_tid: dict[int, int] = {}
        #: (monotonic time, module) when importing a module turned the GIL back on
        self.gil_enabled_by: list[tuple[float, str]] = []
        self.gil_enabled_at_exit: bool | None = None
        #: The exception that ended the script, when one did (its exit status is then 1).
        self.uncaught: str | None = None
        self.shipping = ShippingDraft()
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
        elif kind == "deadlock" and self.deadlock is None:
            self.deadlock = message
        elif kind == "locks_failed":
            self.locks_failed = str(message.get("detail", "lock tracking failed"))
        elif kind == "gil_enabled":
            self.gil_enabled_by.append((float(message["t"]), str(message.get("module", "?"))))
        elif kind == "uncaught" and pid == int((self.hello or {}).get("pid", -1)):
            self.uncaught = str(message.get("error", "exception"))
        elif kind == "task_shipping":
            self.shipping.add(message)
        elif kind == "task_counts":
            self.shipping.count(message)
        elif kind == "exit":
            if pid == int((self.hello or {}).get("pid", -1)) and "gil_enabled" in message:
                self.gil_enabled_at_exit = bool(message["gil_enabled"])
            names = message.get("names") or {}
            self.exit_names[pid] = {int(k): str(v) for k, v in names.items()}

    def gil_turned_on(self, t0: float) -> str | None:
        """When a free-threaded target that started without the GIL turned it on, and why."""
        if self.gil_enabled_by:
            t, module = self.gil_enabled_by[0]
            return (
                f"the GIL was turned back on {max(0.0, t - t0):.2f} s into the run by importing "
                f"{module}, which does not declare free-threading support "
                "(PYTHON_GIL=0 or -X gil=0 keeps it off)"
            )
        if self.gil_enabled_at_exit and self.hello and not self.hello.get("gil_enabled"):
            return "the GIL was turned back on during the run (the import that did it was not seen)"
        return None

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def wait_for_hello(self, target: subprocess.Popen[bytes]) -> dict[str, Any]:
        """The hello, or one line saying why the target never got to the script."""
        deadline = time.monotonic() + HELLO_TIMEOUT_S
        while not self.ready.wait(0.05):
            if target.poll() is not None or time.monotonic() > deadline:
                break
        if self.error is not None:
            target.wait()
            raise UsageError(str(self.error.get("message", "the target could not start")))
        if self.hello is None:
            code = target.poll()
            if code is None:
                raise CannotProfileError("the target interpreter did not start within 60 s")
            raise CannotProfileError(
                f"the target interpreter exited (status {code}) before running the script"
            )
        return self.hello

    def update(self, sightings: ThreadSightings, t0: float) -> None:
        """Add what the bootstrap said of Python threads (on the run's clock) to ``sightings``."""
        for key, entry in list(self.threads.items()):
            sightings.python.add(key)
            sightings.idents[key] = int(entry["ident"])
            if entry.get("name"):
                sightings.names[key] = str(entry["name"])
            if "start" in entry:
                sightings.started_s[key] = entry["start"] - t0
            if "end" in entry:
                sightings.ended_s[key] = entry["end"] - t0
        for pid, names in list(self.exit_names.items()):
            for tid, name in names.items():
                if name:
                    sightings.names[(pid, tid)] = name
