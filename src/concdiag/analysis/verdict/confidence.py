"""The verdict's confidence: the probability that a rerun gives the same recommendation.

A rerun measures the same program again, with two kinds of difference: the sampling error of
every share (the error bars, from each thread's ticks) and what changes from run to run (the
machine's load stretches or shrinks the work; the mix of states moves a little). Both are
drawn here: the measured worker seconds are perturbed by as much as two independent runs
differ (sqrt 2 times one run's error), the recommendation is decided again on each draw by the
same rules, and the confidence is the share of draws that agree. A verdict far from every
margin it rests on (bound shares, the no-gain and too-short floors, the processes-vs-threads
margin) gets nearly 1; one on a margin about one half. The draws are seeded, so the same
profile always gets the same confidence. docs/measurement.md "Confidence" says how the
run-to-run spreads were measured, and docs/verdicts.md how the result was checked.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Callable

from concdiag.analysis.verdict.inputs import Inputs
from concdiag.analysis.verdict.thresholds import (
    CONFIDENCE_DRAWS,
    CONFIDENCE_SEED,
    MAX_CONFIDENCE,
    MIN_CONFIDENCE,
    NO_GIL_WORD_CONFIDENCE,
    NO_STACKS_CONFIDENCE,
    RERUN_SCALE_SD,
    RERUN_STATE_SD,
)

#: Inputs fields holding worker seconds per state, with the state whose variance they carry.
_STATE_FIELDS = (
    ("python_cpu_s", "gil_held"),
    ("gil_wait_s", "gil_wait"),
    ("native_cpu_s", "native"),
    ("io_s", "io"),
    ("lock_s", "sync"),
)
#: Seconds that stretch with the run as a whole.
_SCALED_FIELDS = ("wall_s",)
#: Seconds counted from samples of the pool machinery's frames: they stretch with the run and
#: carry their own sampling error (a count of ticks: Poisson), so a pool judged on a few
#: ticks is not judged with certainty (compileall -j 2: "tasks too small" at 0.99 on 11 ticks
#: of dispatching in a 0.46 s run, flipping to multiprocessing on reruns).
_COUNTED_FIELDS = (
    "serialise_held_s",
    "serialise_native_s",
    "dispatch_held_s",
    "dispatch_native_s",
    "serial_held_s",
    "serial_native_s",
    "serial_io_s",
)
_RERUN = math.sqrt(2.0)  # a rerun and this run each carry one run's error


def rerun_outcomes(inputs: Inputs, recommend_of: Callable[[Inputs], str]) -> Counter[str]:
    """How many of the simulated reruns give each recommendation (seeded: repeatable)."""
    rng = random.Random(CONFIDENCE_SEED)
    return Counter(recommend_of(_rerun(inputs, rng)) for _ in range(CONFIDENCE_DRAWS))


def rerun_majority(outcomes: Counter[str], recommendation: str) -> str:
    """The answer more than half the reruns give, where one does; else the measured one.

    A measurement just past a margin (a predicted 1.16x against the 1.15x floor, on shares
    with wide error bars) gives one answer while most reruns would give another: the verdict
    then is the one a rerun would most likely repeat. Where no answer has a majority (isort
    -j 2: threads 45%, serial 29%, processes 26%), the measured answer stays, with its low
    confidence saying that a rerun may well differ.
    """
    best, count = max(outcomes.items(), key=lambda kv: (kv[1], kv[0] == recommendation))
    return best if 2 * count > sum(outcomes.values()) else recommendation


def _rerun(inputs: Inputs, rng: random.Random) -> Inputs:
    scale = math.exp(_RERUN * RERUN_SCALE_SD * rng.gauss(0.0, 1.0))
    changes: dict[str, float] = {}
    for name, state in _STATE_FIELDS:
        seconds = getattr(inputs, name)
        sd = math.sqrt(inputs.variance_s2.get(state))
        drawn = max(0.0, seconds + _RERUN * sd * rng.gauss(0.0, 1.0))
        changes[name] = drawn * scale * math.exp(_RERUN * RERUN_STATE_SD * rng.gauss(0.0, 1.0))
    for name in _SCALED_FIELDS:
        changes[name] = getattr(inputs, name) * scale
    for name in _COUNTED_FIELDS:
        seconds = getattr(inputs, name)
        sd = math.sqrt(seconds * inputs.tick_s)  # sqrt(ticks) ticks
        changes[name] = max(0.0, seconds + _RERUN * sd * rng.gauss(0.0, 1.0)) * scale
    # sleeping is a part of the I/O wait: it keeps its share of it
    changes["sleep_s"] = inputs.sleep_s * (changes["io_s"] / inputs.io_s if inputs.io_s else 0.0)
    return dataclasses.replace(inputs, **changes)  # type: ignore[arg-type]


def confidence(
    inputs: Inputs,
    recommendation: str,
    recommend_of: Callable[[Inputs], str],
    outcomes: Counter[str] | None = None,
) -> float:
    """The share of simulated reruns whose recommendation is ``recommendation``, within
    [MIN_CONFIDENCE, MAX_CONFIDENCE], and capped where a blind spot could make every rerun
    agree on the same mistake (no GIL word, no stacks)."""
    if outcomes is None:
        outcomes = rerun_outcomes(inputs, recommend_of)
    result = min(MAX_CONFIDENCE, outcomes[recommendation] / CONFIDENCE_DRAWS)
    if inputs.gil_enabled and not inputs.gil_measured:
        result = min(result, NO_GIL_WORD_CONFIDENCE)
    if not inputs.stacks_available:
        result = min(result, NO_STACKS_CONFIDENCE)
    return max(MIN_CONFIDENCE, result)
