"""What a verdict must never contradict: the figures printed beside it.

Each rule reads the finished verdict and the figures the report shows with it, and names
the contradiction it finds. A profile that breaks one is a bug in the rules: the suite runs
with `STRICT_ENV` set, which makes it an error; elsewhere the report says so in a note.
"""

from __future__ import annotations

from concdiag.analysis.verdict.rules import at_pool_size
from concdiag.analysis.verdict.thresholds import MIN_GAIN
from concdiag.model import ProcessProfile, Summary, Verdict

#: Set to "1", a broken rule raises instead of becoming a note (the test suite sets it).
STRICT_ENV = "CONCDIAG_STRICT_VERDICT"
#: Worker processes holding the GIL this share of their life or more run Python code flat
#: out: a stated choice, the "90% GIL-bound" the rule is written for.
BUSY_WORKER_GIL_SHARE = 0.9
#: More cores than this busy on average: the processes did run in parallel (one core's work
#: plus sampling noise is not parallelism).
PARALLEL_CORES = 1.1


class InconsistentVerdict(AssertionError):
    """A verdict contradicts its own figures (raised only under `STRICT_ENV`)."""


def gain_behind_recommendation(verdict: Verdict, cores: int) -> str | None:
    """Threads or processes are never recommended at a predicted speedup under `MIN_GAIN` at
    the pool size this machine runs, unless simulated reruns mostly say otherwise (the
    ``rerun_majority`` reason then gives both shares)."""
    if verdict.recommendation not in ("threading", "multiprocessing"):
        return None
    if not verdict.predicted_speedup:
        return None
    if any(r.rule == "rerun_majority" for r in verdict.reasons):
        return None
    at_pool = at_pool_size(cores, verdict.predicted_speedup)
    gain = at_pool.threads if verdict.recommendation == "threading" else at_pool.processes
    if gain >= MIN_GAIN:
        return None
    return (
        f"recommends {verdict.recommendation} predicted at {gain:.2f}x with {at_pool.workers} "
        f"workers, under the {MIN_GAIN}x floor"
    )


def busy_python_workers_not_io(
    verdict: Verdict, processes: list[ProcessProfile], summary: Summary
) -> str | None:
    """Worker processes that run GIL-bound Python flat out and keep more than one core busy
    are not an I/O-bound program to move onto threads."""
    if verdict.bound != "io" or verdict.recommendation != "threading":
        return None
    busy = [
        p
        for p in processes
        if not p.is_root
        and p.python
        and p.gil.utilisation is not None
        and p.gil.utilisation >= BUSY_WORKER_GIL_SHARE
    ]
    if not busy or summary.cores_used_mean <= PARALLEL_CORES:
        return None
    return (
        f"calls the run I/O-bound and recommends threads while {len(busy)} worker process(es) "
        f"held their GIL {BUSY_WORKER_GIL_SHARE:.0%} or more of the time and the tree kept "
        f"{summary.cores_used_mean:.2f} cores busy"
    )


def violations(
    verdict: Verdict, processes: list[ProcessProfile], summary: Summary, cores: int
) -> list[str]:
    """Every contradiction between the verdict and its figures, as sentences."""
    found = [
        gain_behind_recommendation(verdict, cores),
        busy_python_workers_not_io(verdict, processes, summary),
    ]
    return [f for f in found if f is not None]
