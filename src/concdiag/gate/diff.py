"""Pure comparison of two measurements of one target: what changed, and what regressed.

A figure regresses only when HEAD is worse than BASE by more than its limit *plus* the noise
margins of both sides (see `concdiag.gate.measure.MARGINS_TEXT`), so run-to-run noise on a
busy CI machine does not fail a pull request; a change past the limit but inside the margins
warns.
"""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.gate.evaluate import (
    THREAD_KINDS,
    confidence_note,
    mismatch_fails,
    model_kinds,
    sites_for,
)
from concdiag.gate.policy import DiffLimits, Rules
from concdiag.gate.result import Change, Finding, Measurement
from concdiag.model import STATE_KEYS, JsonScalar, model_noun


@dataclass(frozen=True, slots=True)
class _Compared:
    """One limited figure, BASE against HEAD."""

    base: float  # BASE's median
    head: float  # HEAD's median
    increase: float
    limit: float
    margin: float  # the noise margins of both sides
    regressed: bool  # worse by more than the limit plus the margin


def _compared(base: Measurement, head: Measurement, figure: str, limit: float) -> _Compared:
    b, h = base.figures[figure], head.figures[figure]
    margin = b.margin + h.margin
    increase = h.median - b.median
    return _Compared(b.median, h.median, increase, limit, margin, increase > limit + margin)


def _judged(c: _Compared, stated: str, why: str) -> tuple[str, str]:
    """The outcome and message of one limited figure: past the limit and the noise fails,
    past the limit only warns."""
    if c.regressed:
        return "failed", f"{stated}: {why}."
    if c.increase > c.limit:
        return "warning", f"{stated}: past the limit but within the noise: not failing."
    return "passed", f"{stated}."


def _time_change(
    name: str,
    label: str,
    figure: str,
    base: Measurement,
    head: Measurement,
    relative_limit: float,
    limits: DiffLimits,
    script: str | None,
) -> tuple[Change, Finding]:
    base_median = base.figures[figure].median
    c = _compared(base, head, figure, max(relative_limit * base_median, limits.min_time_change_s))
    figures: dict[str, JsonScalar] = {
        "base": c.base,
        "head": c.head,
        "increase": round(c.increase, 6),
        "limit": round(c.limit, 6),
        "margin": round(c.margin, 6),
        "max_increase": relative_limit,
    }
    pct = 100 * c.increase / c.base if c.base else 0.0
    stated = (
        f"{label} {c.base:.2f} s -> {c.head:.2f} s ({pct:+.0f}%); limit "
        f"+{c.limit:.2f} s (max({100 * relative_limit:.0f}%, {limits.min_time_change_s:g} s)) "
        f"+ noise margin {c.margin:.2f} s"
    )
    outcome, text = _judged(c, stated, "a regression")
    sites = sites_for(head, script) if outcome != "passed" else []
    rule = f"{figure.removesuffix('_s').replace('_', '-')}-time-regression"
    return (
        Change(figure, c.base, c.head, round(c.limit, 6), round(c.margin, 6), c.regressed),
        Finding(rule, outcome, name, text, figures, sites),
    )


def _gil_change(
    name: str, base: Measurement, head: Measurement, limits: DiffLimits, script: str | None
) -> tuple[Change, Finding]:
    if "gil_wait_share" not in base.figures or "gil_wait_share" not in head.figures:
        return _no_gil_change(name, base, head)
    c = _compared(base, head, "gil_wait_share", limits.max_gil_wait_share_increase)
    stated = (
        f"GIL wait share {100 * c.base:.1f}% -> {100 * c.head:.1f}% "
        f"({100 * c.increase:+.1f} points); limit +{100 * c.limit:.0f} points + noise margin "
        f"{100 * c.margin:.1f} points"
    )
    outcome, text = _judged(c, stated, "GIL contention got worse")
    figures: dict[str, JsonScalar] = {
        "base": c.base,
        "head": c.head,
        "increase": round(c.increase, 6),
        "limit": c.limit,
        "margin": round(c.margin, 6),
    }
    sites = sites_for(head, script, THREAD_KINDS) if outcome != "passed" else []
    return (
        Change("gil_wait_share", c.base, c.head, c.limit, round(c.margin, 6), c.regressed),
        Finding("gil-wait-regression", outcome, name, text, figures, sites),
    )


def _no_gil_change(name: str, base: Measurement, head: Measurement) -> tuple[Change, Finding]:
    """A side that ran without a GIL (free-threaded) has no GIL wait to compare."""
    b, h = base.figures.get("gil_wait_share"), head.figures.get("gil_wait_share")
    sides = " and ".join(s for s, f in (("BASE", b), ("HEAD", h)) if f is None)
    text = f"No GIL in {sides} (free-threaded, running without it): GIL wait not compared."
    return (
        Change(
            "gil_wait_share", b.median if b else None, h.median if h else None, None, 0.0, False
        ),
        Finding("gil-wait-regression", "passed", name, text, {}, []),
    )


def compare(
    name: str,
    base: Measurement,
    head: Measurement,
    limits: DiffLimits,
    rules: Rules,
    script: str | None,
) -> tuple[list[Change], list[Finding]]:
    """Changes worth showing, and one finding per regression rule."""
    changes: list[Change] = []
    findings: list[Finding] = []
    for label, figure, relative in (
        ("wall time", "wall_s", limits.max_wall_increase),
        ("CPU time", "cpu_s", limits.max_cpu_increase),
    ):
        change, finding = _time_change(name, label, figure, base, head, relative, limits, script)
        changes.append(change)
        findings.append(finding)
    change, finding = _gil_change(name, base, head, limits, script)
    changes.append(change)
    findings.append(finding)
    changes += _spread_changes(base, head)
    changes += _worker_share_changes(base, head)
    verdict = _verdict_finding(name, base, head, limits, rules, script)
    if verdict is not None:
        findings.append(verdict)
    return changes, findings


def _spread_changes(base: Measurement, head: Measurement) -> list[Change]:
    """GIL utilisation and cores used, shown for context: no rule judges them."""
    changes = []
    for figure in ("gil_utilisation", "cores_used_mean"):
        b_spread, h_spread = base.figures.get(figure), head.figures.get(figure)
        changes.append(
            Change(
                figure,
                b_spread.median if b_spread else None,
                h_spread.median if h_spread else None,
                None,
                (b_spread.margin if b_spread else 0.0) + (h_spread.margin if h_spread else 0.0),
                False,
            )
        )
    return changes


def _worker_share_changes(base: Measurement, head: Measurement) -> list[Change]:
    """The workers' share of each state both sides have, shown for context."""
    changes = []
    for key in STATE_KEYS:
        if key not in base.worker_shares or key not in head.worker_shares:
            continue  # a side without a GIL has no GIL states
        b_share, h_share = base.worker_shares[key], head.worker_shares[key]
        changes.append(
            Change(
                f"worker_{key}_share",
                b_share.median,
                h_share.median,
                None,
                round(b_share.margin + h_share.margin, 6),
                False,
            )
        )
    return changes


def _verdict_finding(
    name: str,
    base: Measurement,
    head: Measurement,
    limits: DiffLimits,
    rules: Rules,
    script: str | None,
) -> Finding | None:
    """A new mismatch with the model in use, or else a changed verdict; None if neither."""
    verdict_figures: dict[str, JsonScalar] = {
        "base_recommendation": base.recommendation,
        "head_recommendation": head.recommendation,
        "base_current_model": base.current_model,
        "head_current_model": head.current_model,
        "head_confidence": head.confidence,
        "min_confidence": rules.min_confidence,
    }
    new_mismatch = mismatch_fails(head, rules.fail_on_mismatch) and not mismatch_fails(
        base, rules.fail_on_mismatch
    )
    before = f"{model_noun(base.current_model)} -> {base.recommendation}"
    after = f"{model_noun(head.current_model)} -> {head.recommendation}"
    if new_mismatch and limits.fail_on_new_mismatch:
        confident = head.confidence >= rules.min_confidence
        return Finding(
            "new-mismatch",
            "failed" if confident else "warning",
            name,
            f"The verdict now contradicts the model in use (was {before}, now {after}). "
            + head.advice
            + confidence_note(head.confidence, rules),
            verdict_figures,
            sites_for(head, script, model_kinds(head)),
        )
    if (base.recommendation, base.current_model, base.bound) != (
        head.recommendation,
        head.current_model,
        head.bound,
    ):
        return Finding(
            "verdict-changed",
            "advice",
            name,
            f"The verdict changed: {base.bound}-bound, {before} became {head.bound}-bound, "
            f"{after}.",
            verdict_figures,
            [],
        )
    return None
