"""Pure measurement: the profiles of one target's runs -> one `Measurement`.

Repeated runs are combined figure by figure (medians, with the spread as a noise margin);
the verdict is the recommendation most runs agree on, its confidence discounted by the runs
that disagree, so a flaky verdict falls below ``min_confidence`` and warns instead of failing
(`concdiag.gate.evaluate`).
"""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from concdiag.analysis.accounting.clock_figures import ERROR_Z, share_error
from concdiag.gate.result import Confirmation, Measurement, Site, Spread, ThreadShares
from concdiag.model import STATE_KEYS, Profile

MARGINS_TEXT = (
    "noise margin of each figure = half its range over the repeated runs, and for shares at "
    f"least {ERROR_Z:g} standard errors of a proportion over the samples taken (Wilson's "
    "interval); with one run, times have no margin (use --repeat N)"
)


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


def _worker_shares(profile: Profile) -> dict[str, float]:
    """Share of worker time per state; no GIL states on a run without the GIL."""
    seconds = profile.summary.worker_seconds
    total = seconds.total()
    return {k: seconds.get(k) / total if total else 0.0 for k in seconds.state_keys()}


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
    }
    if s.gil_wait_share is not None:  # None: the run had no GIL
        figures["gil_wait_share"] = (s.gil_wait_share, share_error(s.gil_wait_share, samples))
    if s.gil_utilisation is not None:
        figures["gil_utilisation"] = (
            s.gil_utilisation,
            share_error(s.gil_utilisation, profile.run.sample_count),
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
            found[key] = (
                thread.role,
                {k: thread.states.get(k) for k in thread.states.state_keys()},
            )
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
    waits = statistics.median(p.summary.gil_wait_share or 0.0 for p in agreeing)
    representative = min(agreeing, key=lambda p: abs((p.summary.gil_wait_share or 0.0) - waits))
    confidence = statistics.median(p.verdict.confidence for p in agreeing) * top / len(profiles)

    per_run = [_figures(p) for p in profiles]
    names = [n for n in per_run[0] if all(n in f for f in per_run)]
    figures = {n: spread([f[n][0] for f in per_run], max(f[n][1] for f in per_run)) for n in names}
    worker = [_worker_shares(p) for p in profiles]
    errors = [_worker_samples(p) for p in profiles]
    worker_shares = {
        k: spread([w[k] for w in worker], max(share_error(w[k], n) for w, n in zip(worker, errors)))
        for k in STATE_KEYS
        if all(k in w for w in worker)
    }
    runs_threads = [_thread_shares(p) for p in profiles]
    threads = []
    for name, (role, _) in _thread_shares(representative).items():
        seen = [t[name][1] for t in runs_threads if name in t]
        threads.append(
            ThreadShares(
                name=name,
                role=role,
                shares={
                    k: round(statistics.median(s[k] for s in seen), 4)
                    for k in STATE_KEYS
                    if all(k in s for s in seen)
                },
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
        confirmation=confirmation(profiles, recommendation),
    )


def confirmation(profiles: Sequence[Profile], recommendation: str) -> Confirmation | None:
    """The first run's measured alternatives: as written against the recommended model."""
    whatif = next((p.whatif for p in profiles if p.whatif is not None), None)
    if whatif is None:
        return None
    timed = [a for a in whatif.alternatives if a.status == "ok" and a.wall is not None]
    written = next((a for a in timed if a.as_written), None)
    ours = [a for a in timed if not a.as_written and a.model == recommendation]
    best = min(ours, key=lambda a: a.wall.median_s if a.wall else 0.0) if ours else None
    return Confirmation(
        outcome=whatif.outcome,
        message=whatif.message,
        as_written_s=written.wall.median_s if written and written.wall else None,
        as_written_margin_s=written.wall.margin_s if written and written.wall else None,
        alternative=best.label if best else None,
        alternative_s=best.wall.median_s if best and best.wall else None,
        alternative_margin_s=best.wall.margin_s if best and best.wall else None,
    )
