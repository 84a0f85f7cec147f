"""Pure evaluation: one target's `Measurement` -> findings under the policy's rules.

Nothing here runs a target or writes a file. Each rule is one function; a rule fails the
gate only when the evidence is confident enough, else it warns. The helpers the rules share
with `concdiag.gate.diff` (where to point, when a model counts as mismatched, the
low-confidence note) are here, written once.
"""

from __future__ import annotations

from collections.abc import Sequence

from concdiag.errors import (
    EXIT_CANNOT_PROFILE,
    EXIT_OK,
    EXIT_POLICY_FAILED,
    EXIT_TARGET_FAILED,
)
from concdiag.gate.policy import Rules
from concdiag.gate.result import Finding, Measurement, Site, TargetResult
from concdiag.model import JsonScalar, model_noun

#: Site kinds that create threads, and those that create processes.
THREAD_KINDS = ("thread", "thread_pool")
PROCESS_KINDS = ("process", "process_pool")


def contradiction(m: Measurement) -> str | None:
    """Why the verdict contradicts the model in use, when it does; else None.

    Only two cases contradict outright: threads carrying CPU work that holds the GIL (they
    cannot run it in parallel), and processes where threads would serve better.
    """
    if (
        m.current_model == "threading"
        and m.recommendation == "multiprocessing"
        and m.cpu_kind == "python"
    ):
        return "threads carry CPU work that holds the GIL, so they cannot run it in parallel"
    if m.current_model == "multiprocessing" and m.recommendation == "threading":
        return "the work runs in processes, but threads overlap it without start-up and pickling"
    return None


def mismatch_fails(m: Measurement, mode: str) -> bool:
    """Whether the model in use counts as mismatched under ``fail_on_mismatch`` = ``mode``."""
    if mode == "never":
        return False
    if mode == "any":
        return m.matches is False
    return contradiction(m) is not None


def model_kinds(m: Measurement) -> tuple[str, ...]:
    """The site kinds of the model in use: where a finding about that model points."""
    return PROCESS_KINDS if m.current_model == "multiprocessing" else THREAD_KINDS


def sites_for(m: Measurement, script: str | None, kinds: tuple[str, ...] = ()) -> list[Site]:
    """The sites of ``kinds``, else every site, else the script itself (code scanning wants a
    location)."""
    chosen = [s for s in m.sites if s.kind in kinds] or list(m.sites)
    if not chosen and script:
        chosen = [Site(script, 1, "script", "")]
    return chosen


def confidence_note(confidence: float, rules: Rules) -> str:
    """Why a failing rule only warns: the verdict's confidence is below the policy's floor."""
    if confidence >= rules.min_confidence:
        return ""
    return (
        f" Not failing: confidence {confidence:.2f} is below min_confidence "
        f"{rules.min_confidence:.2f}."
    )


def _gated(
    rule: str,
    target: str,
    failing: bool,
    confident: bool,
    message: str,
    figures: dict[str, JsonScalar],
    sites: list[Site],
) -> Finding:
    """A finding that fails the gate only when the evidence is confident enough."""
    outcome = "passed" if not failing else ("failed" if confident else "warning")
    return Finding(rule, outcome, target, message, figures, sites)


def evaluate(name: str, m: Measurement, rules: Rules, script: str | None) -> list[Finding]:
    """Apply each rule of the policy to one target's measurement."""
    findings: list[Finding] = []
    confident = m.confidence >= rules.min_confidence
    verdict_figures = _verdict_figures(m, rules)
    if rules.fail_on_mismatch != "never":
        # with --confirm, a failing mismatch takes its confidence from the measured
        # alternatives, and the expected-recommendation rule below is judged with it too
        mismatch, confident = _mismatch(name, m, rules, script, verdict_figures, confident)
        findings.append(mismatch)
    if m.matches is False and not any(f.outcome != "passed" for f in findings):
        findings.append(
            Finding(
                "advice",
                "advice",
                name,
                f"Runs {model_noun(m.current_model)} now; the measurements recommend "
                f"{m.recommendation}. " + m.advice,
                verdict_figures,
                sites_for(m, script, model_kinds(m)),
            )
        )
    if rules.expect is not None:
        findings.append(_expected(name, m, rules, script, verdict_figures, confident))
    if rules.max_gil_wait_share is not None:
        findings.append(_gil_wait(name, m, rules.max_gil_wait_share, script))
    return findings


def _verdict_figures(m: Measurement, rules: Rules) -> dict[str, JsonScalar]:
    return {
        "current_model": m.current_model,
        "recommendation": m.recommendation,
        "bound": m.bound,
        "cpu_kind": m.cpu_kind,
        "confidence": m.confidence,
        "min_confidence": rules.min_confidence,
        "agreement": f"{m.agreement}/{m.runs}",
    }


def _mismatch(
    name: str,
    m: Measurement,
    rules: Rules,
    script: str | None,
    verdict_figures: dict[str, JsonScalar],
    confident: bool,
) -> tuple[Finding, bool]:
    """The model-mismatch (or model-contradiction) finding, and the confidence it was judged
    with."""
    mode = rules.fail_on_mismatch
    failing = mismatch_fails(m, mode)
    figures = verdict_figures
    if failing and rules.confirm:
        # --confirm: the measured alternatives decide, not the verdict's confidence
        confident, measured, figures = measured_gain(m, rules)
        figures = {**verdict_figures, **figures}
        text = (
            f"{model_noun(m.current_model)} in use, but the measurements recommend "
            f"{m.recommendation}. {measured}"
        )
    elif failing:
        why = contradiction(m)
        text = (
            f"{model_noun(m.current_model)} in use, but the measurements recommend "
            f"{m.recommendation}"
            + (f": {why}." if why else ".")
            + f" {m.advice}{confidence_note(m.confidence, rules)}"
        )
    else:
        text = (
            f"The {model_noun(m.current_model)} model is not contradicted by the verdict "
            f"({m.recommendation})."
        )
    finding = _gated(
        "model-mismatch" if mode == "any" else "model-contradiction",
        name,
        failing,
        confident,
        text,
        figures=figures,
        sites=sites_for(m, script, model_kinds(m)) if failing else [],
    )
    return finding, confident


def _expected(
    name: str,
    m: Measurement,
    rules: Rules,
    script: str | None,
    verdict_figures: dict[str, JsonScalar],
    confident: bool,
) -> Finding:
    """The recommendation the policy expects (``expect``), against the measured one."""
    failing = m.recommendation != rules.expect
    return _gated(
        "expected-recommendation",
        name,
        failing,
        confident,
        (
            f"Expected the recommendation {rules.expect}, measured {m.recommendation} "
            f"({m.agreement} of {m.runs} runs).{confidence_note(m.confidence, rules)}"
            if failing
            else f"Recommendation is {m.recommendation}, as expected."
        ),
        figures={**verdict_figures, "expect": rules.expect},
        sites=sites_for(m, script, model_kinds(m)) if failing else [],
    )


def measured_gain(m: Measurement, rules: Rules) -> tuple[bool, str, dict[str, JsonScalar]]:
    """Whether the measured alternative of the recommended model ran faster than the program
    as written by more than ``confirm_margin`` and both spreads (`check --confirm`)."""
    c = m.confirmation
    if c is None or c.alternative_s is None or c.as_written_s is None:
        why = c.message if c is not None else "no alternative was measured"
        return False, f"Not failing: not confirmed by a measurement ({why})", {}
    spread = (c.as_written_margin_s or 0.0) + (c.alternative_margin_s or 0.0)
    needed = rules.confirm_margin * c.as_written_s + spread
    gain = c.as_written_s - c.alternative_s
    figures: dict[str, JsonScalar] = {
        "as_written_s": c.as_written_s,
        "alternative": c.alternative,
        "alternative_s": c.alternative_s,
        "spread_s": round(spread, 6),
        "confirm_margin": rules.confirm_margin,
    }
    measured = (
        f"Measured: {c.alternative} ran in {c.alternative_s:.2f} s ± "
        f"{c.alternative_margin_s or 0:.2f} against {c.as_written_s:.2f} s ± "
        f"{c.as_written_margin_s or 0:.2f} as written"
    )
    if gain > needed:
        return True, f"{measured}: faster by more than confirm_margin and the spread.", figures
    return (
        False,
        f"{measured}. Not failing: not faster by more than confirm_margin "
        f"{100 * rules.confirm_margin:.0f}% and the spread ({needed:.2f} s).",
        figures,
    )


def _gil_wait(name: str, m: Measurement, limit: float, script: str | None) -> Finding:
    wait = m.figures.get("gil_wait_share")
    if wait is None:  # a free-threaded build running without the GIL
        text = "No GIL: the interpreter ran without one, so max_gil_wait_share does not apply."
        return Finding("gil-wait-share", "passed", name, text, {"max_gil_wait_share": limit}, [])
    figures: dict[str, JsonScalar] = {
        "gil_wait_share": wait.median,
        "margin": wait.margin,
        "max_gil_wait_share": limit,
        "runs": wait.runs,
    }
    measured = f"{100 * wait.median:.1f}% ± {100 * wait.margin:.1f}%"
    if wait.median - wait.margin > limit:
        outcome, text = "failed", f"Threads waited for the GIL {measured} of worker time"
        text += f", above max_gil_wait_share {100 * limit:.0f}% by more than the noise margin."
    elif wait.median > limit:
        outcome = "warning"
        text = (
            f"GIL wait {measured} of worker time is above max_gil_wait_share "
            f"{100 * limit:.0f}% but within the noise margin: not failing."
        )
    else:
        outcome = "passed"
        text = f"GIL wait {measured} of worker time, within max_gil_wait_share {100 * limit:.0f}%."
    sites = sites_for(m, script, THREAD_KINDS) if outcome != "passed" else []
    return Finding("gil-wait-share", outcome, name, text, figures, sites)


def target_status(findings: Sequence[Finding]) -> str:
    if any(f.rule == "not-profiled" for f in findings):
        return "not_profiled"
    if any(f.rule == "target-failed" for f in findings):
        return "target_failed"
    return "failed" if any(f.outcome == "failed" for f in findings) else "passed"


def exit_code(targets: Sequence[TargetResult], exit_zero: bool = False) -> int:
    """3 if a target could not be profiled, else 4 if a target failed, else 1 if a rule failed."""
    statuses = {t.status for t in targets}
    if "not_profiled" in statuses:
        return EXIT_CANNOT_PROFILE
    if "target_failed" in statuses:
        return EXIT_TARGET_FAILED
    if "failed" in statuses and not exit_zero:
        return EXIT_POLICY_FAILED
    return EXIT_OK
