"""The measured alternatives (``whatif``) as every renderer shows them: rows and sentences.

HTML, Markdown and the terminal summary format the same figures the same way from here; the
HTML template escapes them, Markdown escapes them with `md_escape`.
"""

from __future__ import annotations

import math
import os.path
from dataclasses import dataclass

from concdiag.model import Profile
from concdiag.model.whatif import (
    Alternative,
    ScalingCurve,
    ScalingPoint,
    SwapSite,
    Timing,
    WhatIf,
)

OUTCOME_LABELS = {
    "confirmed": "measurement confirms the verdict",
    "refuted": "measurement disagrees: the measurement wins",
    "inconclusive": "measurement inconclusive",
    "not_measured": "not measured",
}
PREDICTION_LABELS = {
    "agrees": "inside the measured range",
    "optimistic": "over: predicted more",
    "pessimistic": "under: predicted less",
    "none": "no prediction",
    "unmeasured": "not measured",
}
SITE_LABELS = {
    "thread_pool_executor": "ThreadPoolExecutor",
    "process_pool_executor": "ProcessPoolExecutor",
    "thread_pool": "multiprocessing ThreadPool",
    "process_pool": "multiprocessing Pool",
    "thread": "threading.Thread",
    "process": "multiprocessing.Process",
    "native_threads": "native threads",
}


@dataclass(frozen=True, slots=True)
class AlternativeRow:
    label: str
    model: str
    as_written: bool
    status: str
    wall: str
    cpu: str
    cores: str
    speedup: str
    predicted: str
    prediction: str
    note: str
    bar_share: float  # median wall over the slowest median, for a bar


@dataclass(frozen=True, slots=True)
class SiteRow:
    what: str
    where: str  # file:line, or "" when no Python line is known
    path: str
    code: str
    count: int
    workers: str
    swappable: bool
    note: str


def seconds(t: Timing | None) -> str:
    return "" if t is None else f"{t.median_s:.2f} s ± {t.margin_s:.2f}"


def _speedup(a: Alternative) -> str:
    if a.speedup is None:
        return ""
    if a.as_written:
        return "1.00x"
    span = ""
    if a.speedup_low is not None:
        high = f"{a.speedup_high:.2f}" if a.speedup_high is not None else "∞"
        span = f" ({a.speedup_low:.2f}–{high})"
    return f"{a.speedup:.2f}x{span}"


def alternative_rows(whatif: WhatIf) -> list[AlternativeRow]:
    slowest = max((a.wall.median_s for a in whatif.alternatives if a.wall), default=0.0)
    rows = []
    for a in whatif.alternatives:
        rows.append(
            AlternativeRow(
                label=a.label,
                model=a.model,
                as_written=a.as_written,
                status=a.status.replace("_", " "),
                wall=seconds(a.wall),
                cpu=seconds(a.cpu),
                cores="" if a.cores_used is None else f"{a.cores_used:.2f}",
                speedup=_speedup(a),
                predicted="" if a.predicted_speedup is None else f"{a.predicted_speedup:.2f}x",
                prediction=PREDICTION_LABELS.get(a.prediction, a.prediction),
                note=a.note,
                bar_share=(a.wall.median_s / slowest) if a.wall and slowest else 0.0,
            )
        )
    return rows


def site_rows(whatif: WhatIf) -> list[SiteRow]:
    rows = []
    for s in whatif.sites:
        where = f"{os.path.basename(s.file)}:{s.line}" if s.file and s.line else ""
        rows.append(
            SiteRow(
                what=SITE_LABELS.get(s.what, s.what),
                where=where,
                path=f"{s.file}:{s.line}" if s.file else "",
                code=s.code,
                count=s.count,
                workers="" if s.what in ("thread", "process", "native_threads") else _asked(s),
                swappable=s.swappable,
                note=s.note,
            )
        )
    return rows


def _asked(site: SwapSite) -> str:
    return "default" if site.workers is None else str(site.workers)


def load_text(whatif: WhatIf) -> str:
    """The machine's load while the alternatives ran, in words."""
    if not whatif.load_average:
        return ""
    loads = " and ".join(f"{x:.2f}" for x in whatif.load_average)
    text = f"load average {loads} (start and end) on {whatif.cpu_count} cores"
    if max(whatif.load_average) > whatif.cpu_count:
        text += ": other programs competed for the cores, which limits what parallelism gains"
    return text


def summary_lines(profile: Profile) -> list[str]:
    """The terminal summary's lines for the measured alternatives."""
    w = profile.whatif
    if w is None:
        return []
    if not w.alternatives:
        lines = [f"  whatif: {w.message}"]
    else:
        lines = [f"  whatif ({OUTCOME_LABELS.get(w.outcome, w.outcome)}): {w.message}"]
    for row in alternative_rows(w):
        figures = f"{row.wall} on {row.cores} cores" if row.wall else row.status
        extra = f", {row.speedup}" if row.speedup and not row.as_written else ""
        guess = f", predicted {row.predicted}" if row.predicted and not row.as_written else ""
        lines.append(f"    {row.label}: {figures}{extra}{guess}")
    for f in w.failures:
        where = f"{os.path.basename(f.file)}:{f.line}" if f.file else "?"
        lines.append(f"    could not run under {f.alternative}: {f.error} (submitted at {where})")
    unswapped = [s for s in site_rows(w) if not s.swappable]
    for s in unswapped:
        lines.append(f"    not swapped: {s.what}" + (f" at {s.where}" if s.where else ""))
    if w.note and w.alternatives:
        lines.append(f"    note: {w.note}")
    if load_text(w):
        lines.append(f"    {load_text(w)}")
    return lines


#: The scaling chart's drawing area, in SVG units.
SCALING_W, SCALING_H = 360, 180


@dataclass(frozen=True, slots=True)
class ScalingChart:
    """One scaling curve placed on a log2 worker axis: measured dots with their ranges, the
    predicted band and line beyond the cores."""

    curve: ScalingCurve
    dots: list[tuple[float, float, float, float, ScalingPoint]]  # x, y, y_low, y_high, point
    band: str  # SVG polygon points of the predicted range
    line: str  # SVG polyline points: last measured point, then the predicted speedups
    measured_line: str
    xs: list[tuple[float, int]]  # axis ticks
    ys: list[tuple[float, str]]


def scaling_charts(whatif: WhatIf) -> list[ScalingChart]:
    return [_chart(c) for c in whatif.scaling]


def _chart(curve: ScalingCurve) -> ScalingChart:
    everything = [*curve.measured, *curve.predicted]
    top_n = max(p.workers for p in everything)
    top_s = max(max(p.high for p in everything), 1.0) * 1.1

    def x(n: int) -> float:
        return round(SCALING_W * math.log2(n) / max(math.log2(top_n), 1.0), 1)

    def y(s: float) -> float:
        return round(SCALING_H * (1 - s / top_s), 1)

    dots = [(x(p.workers), y(p.speedup), y(p.low), y(p.high), p) for p in curve.measured]
    last = curve.measured[-1]
    ahead = [last, *curve.predicted]
    band = " ".join(f"{x(p.workers)},{y(p.high)}" for p in ahead)
    band += " " + " ".join(f"{x(p.workers)},{y(p.low)}" for p in reversed(ahead))
    line = " ".join(f"{x(p.workers)},{y(p.speedup)}" for p in ahead)
    ticks = sorted({p.workers for p in everything})
    step = max(1, math.ceil(top_s / 4))
    ys = [(y(v), f"{v}x") for v in range(0, int(top_s) + 1, step)]
    measured_line = " ".join(f"{x(p.workers)},{y(p.speedup)}" for p in curve.measured)
    return ScalingChart(curve, dots, band, line, measured_line, [(x(n), n) for n in ticks], ys)
