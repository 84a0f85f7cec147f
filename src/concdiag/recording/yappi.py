"""Deep mode's tables, as records: yappi's per-thread, per-function figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
