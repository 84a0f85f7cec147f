"""What the pool swap (``agent/pools/``) saw inside a target, read back as records.

The in-target module appends one JSON line per pool created, bare thread or process started,
failed task, and read of standard input (the first time each line does it), and at exit the
number of times each repeated. `read_swap_report` turns that file into a `SwapReport`;
`swap_env` writes the environment that asks the bootstrap to load the module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from concdiag.recording.whatif import POOL_FAMILIES, PoolSeen, StartSeen, SwapReport, TaskErrorSeen

#: The environment variable the bootstrap reads the swap's configuration from.
SWAP_ENV = "CONCDIAG_POOL_SWAP"
#: With it set to "1" the bootstrap runs the target without samplers or event pipe.
BARE_ENV = "CONCDIAG_BARE"


def swap_env(kind: str, workers: int | None, report: Path, watch: bool = False) -> str:
    """The value of `SWAP_ENV` for one run."""
    config = {"kind": kind, "workers": workers, "report": str(report), "watch": watch}
    return json.dumps(config, sort_keys=True)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_swap_report(path: Path) -> SwapReport:
    """The records the module wrote; an absent or unreadable file reads as not installed."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return SwapReport(installed=False, interpreters=False, python="")
    records: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    installed: dict[str, Any] | None = None
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("type") == "installed":
            installed = record
        elif record.get("type") == "counts" and isinstance(record.get("counts"), dict):
            counts.update({str(k): int(v) for k, v in record["counts"].items()})
        else:
            records.append(record)

    def count(record: dict[str, Any]) -> int:
        return max(1, counts.get(_str(record.get("key")), 1))

    pools, starts, errors = [], [], []
    read_stdin = False
    started_t = None
    for r in records:
        kind = r.get("type")
        where = (r.get("file") if isinstance(r.get("file"), str) else None, _int(r.get("line")))
        if kind == "pool" and r.get("kind") in POOL_FAMILIES:
            pools.append(
                PoolSeen(
                    kind=str(r["kind"]),
                    file=where[0],
                    line=where[1],
                    code=_str(r.get("code")),
                    workers=_int(r.get("workers")),
                    default_workers=_int(r.get("default_workers")) or 1,
                    became=r.get("became") if isinstance(r.get("became"), str) else None,
                    workers_used=_int(r.get("workers_used")),
                    note=_str(r.get("note")),
                    named=not r.get("compiled", False),
                    count=count(r),
                )
            )
        elif kind in ("thread", "process"):
            starts.append(
                StartSeen(str(kind), *where, _str(r.get("code")), _str(r.get("via")), count(r))
            )
        elif kind == "task_error":
            errors.append(
                TaskErrorSeen(
                    _str(r.get("error")), _str(r.get("task")), *where, _str(r.get("code")), count(r)
                )
            )
        elif kind == "stdin":
            read_stdin = True
        elif kind == "started" and isinstance(r.get("t"), (int, float)):
            started_t = float(r["t"])
    return SwapReport(
        installed=installed is not None,
        interpreters=bool(installed and installed.get("interpreters")),
        python=_str(installed.get("python")) if installed else "",
        pools=pools,
        starts=starts,
        task_errors=errors,
        read_stdin=read_stdin,
        started_t=started_t,
    )
