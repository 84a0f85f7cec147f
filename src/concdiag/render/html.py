"""The self-contained HTML report: jinja2 with autoescape, charts as inline SVG.

Nothing is fetched at view time: CSS, script and charts are inline, so the file opens
offline from ``file://``. Data reaches the page's script only through ``|tojson``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from concdiag.model import STATE_KEYS, Profile
from concdiag.render.figures import STATE_LABELS, key_figures, pct

#: Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
STATE_COLOURS = {
    "gil_held": "#D55E00",
    "gil_wait": "#E69F00",
    "native": "#009E73",
    "io": "#0072B2",
    "sync": "#CC79A7",
    "unknown": "#999999",
}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("concdiag.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": True}
    env.filters["pct"] = pct
    return env


def _polyline(values: list[float | None], width: float, height: float, top: float) -> str:
    """SVG points for a series scaled to 0..top, skipping gaps."""
    if not values:
        return ""
    step = width / max(1, len(values))
    points = []
    for i, value in enumerate(values):
        if value is None:
            continue
        x = (i + 0.5) * step
        y = height - (min(value, top) / top) * height if top else height
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def _speedup_chart(profile: Profile) -> dict[str, Any]:
    points = profile.verdict.predicted_speedup
    top = max([1.0] + [max(p.threads, p.processes) for p in points])
    width, height = 360.0, 160.0
    n = max(1, len(points) - 1)

    def xy(i: int, value: float) -> str:
        return f"{i / n * width:.1f},{height - value / top * height:.1f}"

    return {
        "width": width,
        "height": height,
        "top": top,
        "threads": " ".join(xy(i, p.threads) for i, p in enumerate(points)),
        "processes": " ".join(xy(i, p.processes) for i, p in enumerate(points)),
        "points": points,
    }


def _view(profile: Profile) -> dict[str, Any]:
    tl = profile.timeline
    chart_w, chart_h = 720.0, 120.0
    top_cores = max([float(profile.run.cpu_count), *tl.cores_used])
    lanes = []
    for lane in tl.lanes[:60]:
        n = len(tl.t_s)
        cells = []
        for i in range(n):
            dominant = max(STATE_KEYS, key=lambda k: lane.shares[k][i])
            alive = sum(lane.shares[k][i] for k in STATE_KEYS)
            cells.append((dominant if alive > 0 else None, min(1.0, alive)))
        lanes.append({"pid": lane.pid, "tid": lane.tid, "name": lane.name, "cells": cells})
    threads = []
    for proc in profile.processes:
        for t in proc.threads:
            threads.append({"proc": proc, "t": t})
    hot: list[dict[str, Any]] = []
    for proc in profile.processes:
        for t in proc.threads:
            for f in t.hot_functions[:5]:
                hot.append({"thread": t.name, "pid": proc.pid, "f": f})
    hot.sort(key=lambda h: -h["f"].samples)
    return {
        "p": profile,
        "v": profile.verdict,
        "run": profile.run,
        "figures": key_figures(profile),
        "state_keys": STATE_KEYS,
        "labels": STATE_LABELS,
        "colours": STATE_COLOURS,
        "threads": threads,
        "hot": hot[:25],
        "chart": {
            "w": chart_w,
            "h": chart_h,
            "top_cores": top_cores,
            "cores": _polyline(list(tl.cores_used), chart_w, chart_h, top_cores),
            "gil": _polyline(list(tl.gil_utilisation), chart_w, chart_h, 1.0),
            "duration": profile.run.duration_s,
        },
        "lanes": lanes,
        "lane_bins": len(tl.t_s),
        "speedup": _speedup_chart(profile),
    }


class HtmlRenderer:
    extension = ".html"

    def render(self, profile: Profile) -> str:
        return _environment().get_template("report.html.j2").render(**_view(profile))
