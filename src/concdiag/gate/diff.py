"""Pure comparison of two measurements of one target: what changed, and what regressed.

A figure regresses only when HEAD is worse than BASE by more than its limit *plus* the noise
margins of both sides (see `concdiag.gate.evaluate.MARGINS_TEXT`), so run-to-run noise on a busy CI
machine does not fail a pull request; a change past the limit but inside the margins warns.
"""

from __future__ import annotations

from concdiag.gate.evaluate import contradiction
from concdiag.gate.policy import DiffLimits, Rules
from concdiag.gate.result import Change, Finding, Measurement, Site
from concdiag.model import STATE_KEYS, JsonScalar

_THREAD_KINDS = ("thread", "thread_pool")


def _mismatch(m: Measurement, mode: str) -> bool:
    if mode == "never":
        return False
    if mode == "any":
        return m.matches is False
    return contradiction(m) is not None


def _sites(m: Measurement, script: str | None, kinds: tuple[str, ...] = ()) -> list[Site]:
    chosen = [s for s in m.sites if s.kind in kinds] or list(m.sites)
    if not chosen and script:
        chosen = [Site(script, 1, "script", "")]
    return chosen


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
    b, h = base.figures[figure], head.figures[figure]
    limit = max(relative_limit * b.median, limits.min_time_change_s)
    margin = b.margin + h.margin
    increase = h.median - b.median
    regressed = increase > limit + margin
    figures: dict[str, JsonScalar] = {
        "base": b.median,
        "head": h.median,
        "increase": round(increase, 6),
        "limit": round(limit, 6),
        "margin": round(margin, 6),
        "max_increase": relative_limit,
    }
    pct = 100 * increase / b.median if b.median else 0.0
    stated = (
        f"{label} {b.median:.2f} s -> {h.median:.2f} s ({pct:+.0f}%); limit "
        f"+{limit:.2f} s (max({100 * relative_limit:.0f}%, {limits.min_time_change_s:g} s)) "
        f"+ noise margin {margin:.2f} s"
    )
    if regressed:
        outcome, text = "failed", f"{stated}: a regression."
    elif increase > limit:
        outcome, text = "warning", f"{stated}: past the limit but within the noise: not failing."
    else:
        outcome, text = "passed", f"{stated}."
    sites = _sites(head, script) if outcome != "passed" else []
    rule = f"{figure.removesuffix('_s').replace('_', '-')}-time-regression"
    return (
        Change(figure, b.median, h.median, round(limit, 6), round(margin, 6), regressed),
        Finding(rule, outcome, name, text, figures, sites),
    )


def _gil_change(
    name: str, base: Measurement, head: Measurement, limits: DiffLimits, script: str | None
) -> tuple[Change, Finding]:
    b, h = base.figures["gil_wait_share"], head.figures["gil_wait_share"]
    limit = limits.max_gil_wait_share_increase
    margin = b.margin + h.margin
    increase = h.median - b.median
    regressed = increase > limit + margin
    stated = (
        f"GIL wait share {100 * b.median:.1f}% -> {100 * h.median:.1f}% "
        f"({100 * increase:+.1f} points); limit +{100 * limit:.0f} points + noise margin "
        f"{100 * margin:.1f} points"
    )
    if regressed:
        outcome, text = "failed", f"{stated}: GIL contention got worse."
    elif increase > limit:
        outcome, text = "warning", f"{stated}: past the limit but within the noise: not failing."
    else:
        outcome, text = "passed", f"{stated}."
    figures: dict[str, JsonScalar] = {
        "base": b.median,
        "head": h.median,
        "increase": round(increase, 6),
        "limit": limit,
        "margin": round(margin, 6),
    }
    sites = _sites(head, script, _THREAD_KINDS) if outcome != "passed" else []
    return (
        Change("gil_wait_share", b.median, h.median, limit, round(margin, 6), regressed),
        Finding("gil-wait-regression", outcome, name, text, figures, sites),
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
    for key in STATE_KEYS:
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

    verdict_figures: dict[str, JsonScalar] = {
        "base_recommendation": base.recommendation,
        "head_recommendation": head.recommendation,
        "base_current_model": base.current_model,
        "head_current_model": head.current_model,
        "head_confidence": head.confidence,
        "min_confidence": rules.min_confidence,
    }
    new_mismatch = _mismatch(head, rules.fail_on_mismatch) and not _mismatch(
        base, rules.fail_on_mismatch
    )
    before = f"{base.current_model} -> {base.recommendation}"
    after = f"{head.current_model} -> {head.recommendation}"
    if new_mismatch and limits.fail_on_new_mismatch:
        confident = head.confidence >= rules.min_confidence
        kinds = ("process", "process_pool") if head.current_model == "processes" else _THREAD_KINDS
        findings.append(
            Finding(
                "new-mismatch",
                "failed" if confident else "warning",
                name,
                f"The verdict now contradicts the model in use (was {before}, now {after}). "
                + head.advice
                + (
                    ""
                    if confident
                    else f" Not failing: confidence {head.confidence:.2f} is below "
                    f"min_confidence {rules.min_confidence:.2f}."
                ),
                verdict_figures,
                _sites(head, script, kinds),
            )
        )
    elif (base.recommendation, base.current_model, base.bound) != (
        head.recommendation,
        head.current_model,
        head.bound,
    ):
        findings.append(
            Finding(
                "verdict-changed",
                "advice",
                name,
                f"The verdict changed: {base.bound}-bound, {before} became {head.bound}-bound, "
                f"{after}.",
                verdict_figures,
                [],
            )
        )
    return changes, findings
