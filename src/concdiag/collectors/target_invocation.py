"""The program concdiag runs: a script or a module, its arguments, and the Python to run it in.

Profiling, launching and whatif's timed reruns all start the same program the same way,
under the bootstrap in the agent's folder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

#: The one file concdiag starts in the target; it loads the rest of the agent's folder.
BOOTSTRAP = Path(__file__).parents[1] / "agent" / "bootstrap.py"


@dataclass(frozen=True, slots=True)
class TargetInvocation:
    """How to start the target: ``python [-m] target args``, held by every request that runs it."""

    target: str  # a script's path, or a module's name when ``module``
    module: bool
    args: tuple[str, ...]
    python: str | None = None  # None: the Python concdiag itself runs in

    @property
    def interpreter(self) -> str:
        return self.python or sys.executable

    def argv(self) -> list[str]:
        """The command line that runs the program under the bootstrap."""
        return [
            self.interpreter,
            str(BOOTSTRAP),
            *(["-m"] if self.module else []),
            self.target,
            *self.args,
        ]
