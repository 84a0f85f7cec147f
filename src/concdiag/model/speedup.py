"""The process start-up the speedup model charged, and why that start method was assumed."""

from __future__ import annotations

from dataclasses import dataclass

#: Where the start method came from: child processes seen in the run, a call in the target's
#: own source, or the default of the target's Python version and platform.
START_SOURCES = ("observed", "source", "default")


@dataclass(frozen=True, slots=True)
class ProcessStart:
    method: str  # fork, forkserver or spawn
    source: str  # one of START_SOURCES
    reason: str  # "set_start_method('spawn') at work.py:12", "default for 3.14 on Linux"...
    per_process_s: float  # charged for each worker process
    once_s: float  # charged once per program (forkserver's server)

    def describe(self) -> str:
        """One phrase for reports: "spawn, 330 ms per process (set_start_method(...) at x:3)"."""
        once = f" plus {self.once_s * 1000:.0f} ms once" if self.once_s else ""
        each = f"{self.per_process_s * 1000:.0f} ms per process"
        return f"{self.method}, {each}{once} ({self.reason})"
