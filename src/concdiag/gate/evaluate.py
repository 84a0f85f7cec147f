"""Pure evaluation: profiles of a target -> a `Measurement` -> findings under a policy.

Nothing here runs a target or writes a file. Repeated runs are combined figure by figure
(medians, with the spread as a noise margin); the verdict is the recommendation most runs
agree on, its confidence discounted by the runs that disagree, so a flaky verdict falls
below ``min_confidence`` and warns instead of failing.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from concdiag.errors import (
    EXIT_CANNOT_PROFILE,
    EXIT_OK,
    EXIT_POLICY_FAILED,
    EXIT_TARGET_FAILED,
)
from concdiag.gate.policy import Rules
from concdiag.gate.result import Finding, Measurement, Site, Spread, TargetResult, ThreadShares
from concdiag.model import STATE_KEYS, JsonScalar, Profile

#: Shares get a sampling-error margin of this many standard errors of a proportion.
SAMPLING_SE = 2.0

MARGINS_TEXT = (
    "noise margin of each figure = half its range over the repeated runs, and for shares at "
    f"least {SAMPLING_SE:g} standard errors of a proportion over the samples taken; with one "
    "run, times have no margin (use --repeat N)"
)

_THREAD_KINDS = ("thread", "thread_pool")
_PROCESS_KINDS = ("process", "process_pool")


def relative_path(path: str, root: Path) -> str:
    """``path`` relative to ``root`` (posix separators) when under it, else unchanged."""
    if not os.path.isabs(path):
        return Path(path).as_posix()
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def spread(values: Sequence[float], sampling_error: float = 0.0) -> Spread:
    low, high = min(values), max(values)
    margin = max((high - low) / 2, sampling_error)
    return Spread(
        median=round(statistics.median(values), 6),
        low=round(low, 6),
        high=round(high, 6),
        margin=round(margin, 6),
        runs=len(values),
    )


def _share_error(share: float, samples: float) -> float:
    if samples <= 0:
        return 0.0
    p = min(max(share, 0.0), 1.0)
    return SAMPLING_SE * math.sqrt(p * (1 - p) / samples)


def _worker_shares(profile: Profile) -> dict[str, float]:
    total = profile.summary.worker_seconds.total()
    return {k: profile.summary.worker_seconds.get(k) / total if total else 0.0 for k in STATE_KEYS}


def _worker_samples(profile: Profile) -> float:
    return profile.summary.worker_seconds.total() * profile.run.rate_hz


def _figures(profile: Profile) -> dict[str, tuple[float, float]]:
    """Each figure of one run, with its own sampling error."""
    s = profile.summary
    samples = _worker_samples(profile)
    figures = {
        "wall_s": (s.wall_s, 0.0),
        "cpu_s": (s.cpu_s, 0.0),
        "cores_used_mean": (s.cores_used_mean, 0.0),
        "gil_wait_share": (s.gil_wait_share, _share_error(s.gil_wait_share, samples)),
    }
    if s.gil_utilisation is not None:
        figures["gil_utilisation"] = (
            s.gil_utilisation,
            _share_error(s.gil_utilisation, profile.run.sample_count),
        )
    return figures


def _thread_shares(profile: Profile) -> dict[str, tuple[str, dict[str, float]]]:
    found: dict[str, tuple[str, dict[str, float]]] = {}
    for process in profile.processes:
        for thread in process.threads:
            if not thread.python or thread.role == "idle":
                continue
            name = thread.name if process.is_root else f"{thread.name} (pid {process.pid})"
            key, n = name, 2
            while key in found:
                key, n = f"{name} #{n}", n + 1
            found[key] = (thread.role, {k: thread.states.get(k) for k in STATE_KEYS})
    return found


def measure(profiles: Sequence[Profile], root: Path) -> Measurement:
    """Combine the runs of one target into one `Measurement`."""
    if not profiles:
        raise ValueError("no profiles to measure")
    votes = Counter(p.verdict.recommendation for p in profiles)
    top = max(votes.values())
    # ties go to the first run's recommendation, so the result does not depend on sorting
    recommendation = next(
        p.verdict.recommendation for p in profiles if votes[p.verdict.recommendation] == top
    )
    agreeing = [p for p in profiles if p.verdict.recommendation == recommendation]
    waits = statistics.median(p.summary.gil_wait_share for p in agreeing)
    representative = min(agreeing, key=lambda p: abs(p.summary.gil_wait_share - waits))
    confidence = statistics.median(p.verdict.confidence for p in agreeing) * top / len(profiles)

    per_run = [_figures(p) for p in profiles]
    names = [n for n in per_run[0] if all(n in f for f in per_run)]
    figures = {n: spread([f[n][0] for f in per_run], max(f[n][1] for f in per_run)) for n in names}
    worker = [_worker_shares(p) for p in profiles]
    errors = [_worker_samples(p) for p in profiles]
    worker_shares = {
        k: spread(
            [w[k] for w in worker], max(_share_error(w[k], n) for w, n in zip(worker, errors))
        )
        for k in STATE_KEYS
    }
    runs_threads = [_thread_shares(p) for p in profiles]
    threads = []
    for name, (role, _) in _thread_shares(representative).items():
        seen = [t[name][1] for t in runs_threads if name in t]
        threads.append(
            ThreadShares(
                name=name,
                role=role,
                shares={k: round(statistics.median(s[k] for s in seen), 4) for k in STATE_KEYS},
            )
        )
    failed = next((p for p in profiles if p.run.exit.status in ("failed", "signal")), None)
    v = representative.verdict
    return Measurement(
        runs=len(profiles),
        bound=v.bound,
        cpu_kind=v.cpu_kind,
        recommendation=recommendation,
        agreement=top,
        confidence=round(confidence, 3),
        current_model=v.current_model.kind,
        matches=v.current_model.matches,
        summary=v.summary,
        advice=v.current_model.advice,
        sites=[
            Site(relative_path(s.file, root), s.line, s.kind, s.code) for s in v.current_model.sites
        ],
        figures=figures,
        worker_shares=worker_shares,
        threads=threads,
        target_exit=(failed or representative).run.exit.description,
    )


def contradiction(m: Measurement) -> str | None:
    """Why the verdict contradicts the model in use, when it does; else None.

    Only two cases contradict outright: threads carrying CPU work that holds the GIL (they
    cannot run it in parallel), and processes where threads would serve better.
    """
    if (
        m.current_model == "threads"
        and m.recommendation == "multiprocessing"
        and m.cpu_kind == "python"
    ):
        return "threads carry CPU work that holds the GIL, so they cannot run it in parallel"
    if m.current_model == "processes" and m.recommendation == "threading":
        return "the work runs in processes, but threads overlap it without start-up and pickling"
    return None


def _sites_for(m: Measurement, kinds: tuple[str, ...], script: str | None) -> list[Site]:
    chosen = [s for s in m.sites if s.kind in kinds] or list(m.sites)
    if not chosen and script:
        chosen = [Site(script, 1, "script", "")]
    return chosen


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
    confidence_note = (
        ""
        if confident
        else f" Not failing: confidence {m.confidence:.2f} is below min_confidence "
        f"{rules.min_confidence:.2f}."
    )
    verdict_figures: dict[str, JsonScalar] = {
        "current_model": m.current_model,
        "recommendation": m.recommendation,
        "bound": m.bound,
        "cpu_kind": m.cpu_kind,
        "confidence": m.confidence,
        "min_confidence": rules.min_confidence,
        "agreement": f"{m.agreement}/{m.runs}",
    }
    why = contradiction(m)
    mode = rules.fail_on_mismatch
    mismatch = m.matches is False
    kinds = _PROCESS_KINDS if m.current_model == "processes" else _THREAD_KINDS
    if mode != "never":
        failing = why is not None if mode == "contradiction" else mismatch
        if failing:
            text = (
                f"{m.current_model} in use, but the measurements recommend {m.recommendation}"
                + (f": {why}." if why else ".")
                + f" {m.advice}{confidence_note}"
            )
        else:
            text = (
                f"The {m.current_model} model is not contradicted by the verdict "
                f"({m.recommendation})."
            )
        findings.append(
            _gated(
                "model-mismatch" if mode == "any" else "model-contradiction",
                name,
                failing,
                confident,
                text,
                figures=verdict_figures,
                sites=_sites_for(m, kinds, script) if failing else [],
            )
        )
    if mismatch and not any(f.outcome != "passed" for f in findings):
        findings.append(
            Finding(
                "advice",
                "advice",
                name,
                f"Runs {m.current_model} now; the measurements recommend {m.recommendation}. "
                + m.advice,
                verdict_figures,
                _sites_for(m, kinds, script),
            )
        )
    if rules.expect is not None:
        failing = m.recommendation != rules.expect
        findings.append(
            _gated(
                "expected-recommendation",
                name,
                failing,
                confident,
                (
                    f"Expected the recommendation {rules.expect}, measured {m.recommendation} "
                    f"({m.agreement} of {m.runs} runs).{confidence_note}"
                    if failing
                    else f"Recommendation is {m.recommendation}, as expected."
                ),
                figures={**verdict_figures, "expect": rules.expect},
                sites=_sites_for(m, kinds, script) if failing else [],
            )
        )
    if rules.max_gil_wait_share is not None:
        findings.append(_gil_wait(name, m, rules.max_gil_wait_share, script))
    return findings


def _gil_wait(name: str, m: Measurement, limit: float, script: str | None) -> Finding:
    wait = m.figures["gil_wait_share"]
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
    sites = _sites_for(m, _THREAD_KINDS, script) if outcome != "passed" else []
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
