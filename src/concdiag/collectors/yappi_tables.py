"""Deep mode's collector: yappi's per-thread, per-function tables from inside the target.

yappi runs in the target's interpreter (see ``_deep_probe.py``, loaded by the bootstrap); this
module prepares what the probe needs (where to write, which clock, and concdiag's own yappi
for an interpreter that lacks one but can load it) and reads the tables back as records.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concdiag.collectors.target_tables import read_tables

CLOCKS = ("auto", "cpu", "wall")


@dataclass(frozen=True, slots=True)
class YappiFunction:
    """One function in one thread, as yappi traced it (``line`` is where it is defined)."""

    name: str
    file: str
    line: int
    calls: int  # every call, resumptions of a coroutine excluded
    primitive_calls: int  # calls that were not recursive
    total_s: float  # inclusive, on yappi's clock
    self_s: float  # exclusive, on yappi's clock


@dataclass(frozen=True, slots=True)
class YappiThread:
    ctx_id: int
    tid: int | None  # OS thread id, from the probe's context-name callback
    ident: int
    name: str
    total_s: float  # the thread's time on yappi's clock while traced
    sched_count: int  # times yappi saw this thread take over from another
    functions_total: int  # functions traced; `functions` keeps the top ones
    functions: tuple[YappiFunction, ...]


@dataclass(frozen=True, slots=True)
class YappiRun:
    pid: int
    clock: str  # cpu or wall
    clock_reason: str
    yappi_version: str
    python: str
    duration_s: float
    collect_s: float  # time the probe took to gather and write the tables at exit
    threads: tuple[YappiThread, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "concdiag-yappi",
            "version": 1,
            "pid": self.pid,
            "clock": self.clock,
            "clock_reason": self.clock_reason,
            "yappi_version": self.yappi_version,
            "python": self.python,
            "duration_s": self.duration_s,
            "collect_s": self.collect_s,
            "threads": [
                {
                    "ctx_id": t.ctx_id,
                    "native_id": t.tid,
                    "ident": t.ident,
                    "name": t.name,
                    "ttot": t.total_s,
                    "sched_count": t.sched_count,
                    "functions_total": t.functions_total,
                    "functions": [
                        [f.name, f.file, f.line, f.calls, f.primitive_calls, f.total_s, f.self_s]
                        for f in t.functions
                    ],
                }
                for t in self.threads
            ],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> YappiRun:
        """Parse the probe's JSON; raises ValueError when it is not a complete table."""
        if data.get("format") != "concdiag-yappi":
            raise ValueError("not a concdiag yappi dump")
        if data.get("error"):
            raise ValueError(str(data["error"]))
        try:
            threads = tuple(
                YappiThread(
                    ctx_id=int(t["ctx_id"]),
                    tid=None if t.get("native_id") is None else int(t["native_id"]),
                    ident=int(t["ident"]),
                    name=str(t["name"]),
                    total_s=float(t["ttot"]),
                    sched_count=int(t["sched_count"]),
                    functions_total=int(t.get("functions_total", len(t["functions"]))),
                    functions=tuple(
                        YappiFunction(
                            str(f[0]),
                            str(f[1]),
                            int(f[2]),
                            int(f[3]),
                            int(f[4]),
                            float(f[5]),
                            float(f[6]),
                        )
                        for f in t["functions"]
                    ),
                )
                for t in data["threads"]
            )
            return YappiRun(
                pid=int(data["pid"]),
                clock=str(data["clock"]),
                clock_reason=str(data.get("clock_reason", "")),
                yappi_version=str(data.get("yappi_version", "?")),
                python=str(data.get("python", "")),
                duration_s=float(data.get("duration_s", 0.0)),
                collect_s=float(data.get("collect_s", 0.0)),
                threads=threads,
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise ValueError(f"malformed yappi dump: {exc!r}") from exc


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
