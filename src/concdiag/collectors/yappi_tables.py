"""Deep mode's collector side: what the probe inside the target needs, and its tables back.

yappi runs in the target's interpreter (``agent/deep_probe.py``, loaded by the bootstrap);
this module prepares what the probe needs (where to write, which clock, and concdiag's own
yappi for an interpreter that lacks one but can load it) and reads the tables back as
records (`concdiag.recording.yappi`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from concdiag.collectors.target_tables import read_tables
from concdiag.recording.yappi import YappiRun

CLOCKS = ("auto", "cpu", "wall")


class DeepSession:
    """The files of one deep run: the probe's output and concdiag's own yappi for fallback."""

    def __init__(self, clock: str) -> None:
        if clock not in CLOCKS:
            raise ValueError(f"unknown clock {clock!r}")
        self.clock = clock
        self.dir = Path(tempfile.mkdtemp(prefix="concdiag-deep-"))
        self.output = self.dir / "yappi.json"
        self.fallback = self.dir / "yappi-lib"
        self._link_own_yappi()

    def _link_own_yappi(self) -> None:
        """Offer concdiag's yappi to the target; the probe loads it only if its ABI fits."""
        try:
            import _yappi  # type: ignore[import-not-found]
            import yappi  # type: ignore[import-untyped]
        except ImportError:
            return
        self.fallback.mkdir()
        for module in (yappi, _yappi):
            source = getattr(module, "__file__", None)
            if source:
                os.symlink(source, self.fallback / Path(source).name)

    def env_value(self) -> str:
        try:
            from importlib.metadata import version

            own_version = version("yappi")
        except Exception:
            own_version = "?"
        return json.dumps(
            {
                "out": str(self.output),
                "clock": self.clock,
                "fallback": str(self.fallback),
                "fallback_version": own_version,
            }
        )

    def read(self) -> tuple[YappiRun | None, str | None]:
        """The tables, or None and why not."""
        return read_tables(self.output, YappiRun.from_dict, "yappi's")

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
