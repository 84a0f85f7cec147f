"""Lock tracking's collector side: the file the tracker inside the target writes.

The tracker (``agent/locks/``, loaded by the bootstrap) writes its tables as JSON to a file
concdiag names in ``CONCDIAG_LOCKS``: at exit, on SIGTERM, and when it finds a deadlock (then
it also says so on the event pipe, and launch mode ends the target). This module makes that
file, reads it back as records (`concdiag.recording.locks`), and cleans up.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from concdiag.collectors.target_tables import read_tables
from concdiag.recording.locks import LockTables

#: Default seconds a wait-for cycle must last before it is reported as a deadlock.
DEADLOCK_AFTER_S = 3.0
#: One uncontended acquisition in this many is timed (a power of two).
SAMPLE_EVERY = 64


class LockSession:
    """The file one run's tracker writes, and the settings it is given."""

    def __init__(self, deadlock_after_s: float | None, sample_every: int = SAMPLE_EVERY) -> None:
        self.deadlock_after_s = deadlock_after_s
        self.sample_every = sample_every
        self.dir = Path(tempfile.mkdtemp(prefix="concdiag-locks-"))
        self.output = self.dir / "locks.json"

    def env_value(self) -> str:
        return json.dumps(
            {
                "out": str(self.output),
                "deadlock_after": self.deadlock_after_s,
                "every": self.sample_every,
            }
        )

    def read(self) -> tuple[LockTables | None, str | None]:
        """The tables, or None and why not."""
        return read_tables(self.output, LockTables.from_dict, "the lock tracker's")

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
