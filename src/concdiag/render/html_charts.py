"""The report's charts as inline SVG data: timelines and the predicted speedup.

Drawn here, not by script, so they print and read without JavaScript.
"""

from __future__ import annotations

from typing import Any

from concdiag.model import STATE_KEYS, Profile
from concdiag.render.figures import STATE_LABELS
from concdiag.render.views import LaneRun, lane_runs, state_index

#: Thread lanes drawn at most; the rest are counted as hidden.
MAX_LANES = 200


def _series_points(values: list[float | None], top: float) -> list[str]:
    """SVG polyline point lists (one per unbroken stretch) in a viewBox of bins by ``top``."""
    lines: list[str] = []
    current: list[str] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                lines.append(" ".join(current))
                current = []
            continue
        current.append(f"{i + 0.5:g},{top - min(value, top):.3f}")
    if current:
        lines.append(" ".join(current))
    return lines


def _time_ticks(duration_s: float) -> list[tuple[float, str]]:
    """Five to ten round tick marks along the time axis, as (percent of width, label)."""
    if duration_s <= 0:
        return [(0.0, "0 s")]
    step = 1.0
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if duration_s / step <= 10:
            break
    ticks = []
    t = 0.0
    while t <= duration_s + 1e-9:
        ticks.append((100 * t / duration_s, f"{t:g} s"))
        t = round(t + step, 6)
    return ticks


def _lane_paths(runs: list[LaneRun]) -> list[tuple[str, bool, str]]:
    """One SVG path per (state, faint) holding all of a lane's stretches: small files."""
    paths: dict[tuple[str, bool], list[str]] = {}
    for r in runs:
        paths.setdefault((r.state, r.share < 0.5), []).append(
            f"M{r.start} 0h{r.length}v1h-{r.length}z"
        )
    return [
        (state, faint, "".join(parts))
        for (state, faint), parts in sorted(
            paths.items(), key=lambda kv: (state_index(kv[0][0]), kv[0][1])
        )
    ]


def timeline_charts(profile: Profile) -> dict[str, Any]:
    """The timeline section's SVG data: cores used, GIL utilisation, per-thread lanes."""
    tl = profile.timeline
    nbins = len(tl.t_s)
    duration = nbins * tl.bin_s
    top = max([float(profile.run.cpu_count), *tl.cores_used, 1.0])
    gil = [g for g in tl.gil_utilisation if g is not None]
    lanes = []
    for lane in tl.lanes[:MAX_LANES]:
        runs = lane_runs(lane, nbins)
        seconds = {k: sum(lane.shares.get(k, [])) * tl.bin_s for k in STATE_KEYS}
        described = ", ".join(
            f"{STATE_LABELS[k]} {seconds[k]:.2f} s" for k in STATE_KEYS if seconds[k] >= 0.005
        )
        lanes.append({"lane": lane, "paths": _lane_paths(runs), "label": described or "no samples"})
    return {
        "nbins": max(1, nbins),
        "bin_s": tl.bin_s,
        "duration": duration,
        "top": top,
        "cores": _series_points(list(tl.cores_used), top),
        "gil": _series_points(list(tl.gil_utilisation), 1.0),
        "cores_mean": sum(tl.cores_used) / nbins if nbins else 0.0,
        "cores_peak": max(tl.cores_used, default=0.0),
        "gil_mean": sum(gil) / len(gil) if gil else None,
        "ticks": _time_ticks(duration),
        "lanes": lanes,
        "hidden_lanes": max(0, len(tl.lanes) - MAX_LANES),
    }


def speedup_chart(profile: Profile) -> dict[str, Any]:
    """The predicted-speedup chart's SVG coordinates, threads and processes."""
    points = profile.verdict.predicted_speedup
    top = max([2.0] + [max(p.threads, p.processes) for p in points])
    top = float(int(top) + 1) if top > int(top) else top
    width, height = 420.0, 200.0
    n = max(1, len(points) - 1)

    def x(i: int) -> float:
        return i / n * width

    def y(value: float) -> float:
        return height - value / top * height

    grid = [(y(g), f"{g:g}×") for g in range(0, int(top) + 1)]
    return {
        "width": width,
        "height": height,
        "grid": grid,
        "xs": [(x(i), p.workers) for i, p in enumerate(points)],
        "threads": [(x(i), y(p.threads), p) for i, p in enumerate(points)],
        "processes": [(x(i), y(p.processes), p) for i, p in enumerate(points)],
        "threads_line": " ".join(f"{x(i):.1f},{y(p.threads):.1f}" for i, p in enumerate(points)),
        "processes_line": " ".join(
            f"{x(i):.1f},{y(p.processes):.1f}" for i, p in enumerate(points)
        ),
        "points": points,
        "cores": profile.run.cpu_count,
        "cores_x": next(
            (x(i) for i, p in enumerate(points) if p.workers == profile.run.cpu_count), None
        ),
    }
