"""Chrome's Trace Event Format (JSON object form), which Perfetto and chrome://tracing open.

Each thread becomes a track of complete (``X``) events, one per stretch of timeline bins in
which the same state dominated; the process gets counter (``C``) tracks for cores used and
GIL utilisation. Times are microseconds from the start of the run. The verdict and run
details travel in ``otherData``.
"""

from __future__ import annotations

import json
from typing import Any

from concdiag.model import Profile, recommendation_words
from concdiag.render.commands import process_label
from concdiag.render.figures import STATE_LABELS
from concdiag.render.views import lane_runs

_US = 1_000_000


def _us(seconds: float) -> float:
    return round(seconds * _US, 3)


class ChromeTraceRenderer:
    extension = ".trace.json"

    def render(self, profile: Profile) -> str:
        return json.dumps(trace_document(profile), sort_keys=True, allow_nan=False) + "\n"


def trace_document(profile: Profile) -> dict[str, Any]:
    tl = profile.timeline
    events: list[dict[str, Any]] = []
    for order, proc in enumerate(profile.processes):
        label = process_label(proc.command) or profile.run.target
        events.append(_meta("process_name", proc.pid, 0, {"name": f"{label} (pid {proc.pid})"}))
        events.append(_meta("process_sort_index", proc.pid, 0, {"sort_index": order}))
        for t_order, t in enumerate(proc.threads):
            events.append(_meta("thread_name", proc.pid, t.tid, {"name": t.name}))
            events.append(_meta("thread_sort_index", proc.pid, t.tid, {"sort_index": t_order}))
    nbins = len(tl.t_s)
    for lane in tl.lanes:
        for stretch in lane_runs(lane, nbins):
            events.append(
                {
                    "name": STATE_LABELS[stretch.state],
                    "cat": "state",
                    "ph": "X",
                    "ts": _us(stretch.start * tl.bin_s),
                    "dur": _us(stretch.length * tl.bin_s),
                    "pid": lane.pid,
                    "tid": lane.tid,
                    "args": {"state": stretch.state, "mean_share": round(stretch.share, 3)},
                }
            )
    root = profile.root_process()
    counter_pid = root.pid if root is not None else 0
    for i, t_s in enumerate(tl.t_s):
        events.append(
            _counter("cores used", counter_pid, t_s, {"cores": round(tl.cores_used[i], 3)})
        )
        gil = tl.gil_utilisation[i] if i < len(tl.gil_utilisation) else None
        if gil is not None:
            events.append(
                _counter("GIL utilisation", counter_pid, t_s, {"percent": round(100 * gil, 1)})
            )
    v = profile.verdict
    run = profile.run
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "generator": f"concdiag {run.concdiag_version}",
            "target": run.target,
            "command": " ".join(run.command),
            "started_at": run.started_at,
            "python": f"{run.python.implementation} {run.python.version}",
            "verdict": f"{v.bound}-bound, {recommendation_words(v.recommendation)}",
            "confidence": f"{v.confidence:.2f}",
            "summary": v.summary,
        },
    }


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "ts": 0, "pid": pid, "tid": tid, "args": args}


def _counter(name: str, pid: int, t_s: float, args: dict[str, float]) -> dict[str, Any]:
    return {"name": name, "cat": "timeline", "ph": "C", "ts": _us(t_s), "pid": pid, "args": args}
