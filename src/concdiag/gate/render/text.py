"""The terminal summary of a `check` or `diff` result."""

from __future__ import annotations

import re

from concdiag.gate.result import Change, GateResult, Measurement, TargetResult
from concdiag.model import model_noun, recommendation_words

# A thread or file name must not move the cursor or recolour the terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_MARK = {"failed": "FAIL", "warning": "warn", "advice": "note", "passed": "ok"}


def verdict_line(m: Measurement) -> str:
    kind = f" ({m.cpu_kind})" if m.cpu_kind else ""
    return (
        f"{m.bound}-bound{kind}, {recommendation_words(m.recommendation)} "
        f"(confidence {m.confidence:.2f}, "
        f"{m.agreement} of {m.runs} runs agree); runs {model_noun(m.current_model)}"
    )


def is_share(figure: str) -> bool:
    """Whether a figure is a share (shown in percent, changes in points)."""
    return "share" in figure or figure == "gil_utilisation"


def change_value(figure: str, value: float | None) -> str:
    if value is None:  # GIL wait is absent only from a run without a GIL
        return "no GIL" if figure == "gil_wait_share" else "n/a"
    if figure.endswith("_s"):
        return f"{value:.2f} s"
    if is_share(figure):
        return f"{100 * value:.1f}%"
    return f"{value:.2f}"


def change_delta(c: Change) -> str | None:
    """HEAD minus BASE (in points for a share), or None when either side has no value."""
    if c.base is None or c.head is None:
        return None
    if is_share(c.figure):
        return f"{100 * (c.head - c.base):+.1f} points"
    return f"{c.head - c.base:+.2f}"


def change_text(c: Change) -> str:
    change = change_delta(c)
    delta = f" ({change})" if change else ""
    limit = "" if c.limit is None else f", limit +{change_value(c.figure, c.limit)}"
    margin = f", margin {change_value(c.figure, c.margin)}" if c.limit is not None else ""
    flag = "  REGRESSED" if c.regressed else ""
    return (
        f"{c.figure}: {change_value(c.figure, c.base)} -> {change_value(c.figure, c.head)}"
        f"{delta}{limit}{margin}{flag}"
    )


def _target(t: TargetResult) -> list[str]:
    lines = [f"  {t.name}: {t.status}"]
    if t.baseline is not None:
        lines.append(f"    base: {verdict_line(t.baseline)}")
    if t.measurement is not None:
        lines.append(("    head: " if t.baseline else "    ") + verdict_line(t.measurement))
    for c in t.changes:
        if c.limit is not None or c.regressed:
            lines.append(f"    {change_text(c)}")
    for f in t.findings:
        if f.outcome == "passed" and t.baseline is None:
            continue
        lines.append(f"    [{_MARK[f.outcome]}] {f.rule}: {f.message}")
        for site in f.sites[:5]:
            code = f"  {site.code}" if site.code else ""
            lines.append(f"        at {site.file}:{site.line}{code}")
    for report in t.reports[:1]:
        lines.append(f"    report: {report}")
    return lines


class TextResultRenderer:
    extension = ".txt"

    def render(self, result: GateResult) -> str:
        failed = sum(t.status != "passed" for t in result.targets)
        state = "passed" if result.passed else "FAILED"
        lines = [
            f"concdiag {result.command}: {state} ({failed} of {len(result.targets)} targets "
            f"failed; exit {result.exit_code}; policy: {result.policy_source})"
        ]
        for t in result.targets:
            lines += _target(t)
        lines.append(f"  margins: {result.margins}")
        return _CONTROL.sub("?", "\n".join(lines)) + "\n"
