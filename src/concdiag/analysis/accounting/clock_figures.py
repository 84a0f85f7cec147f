"""Each thread's states checked against its own CPU clock, and the error of every share.

After accounting, every thread's states are reconciled with its CPU clock: ``native`` may not
exceed its CPU share, and ``gil_held + native`` must cover it, both up to the sampling error
(docs/measurement.md "Per-thread states", "Error bars").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from concdiag.analysis.accounting.tally import ThreadCounters
from concdiag.model import STATE_KEYS, ClockCheck, ProcessProfile, States

#: Sampling error bars are this many standard errors wide on each side (about 95%).
ERROR_Z = 2.0
#: A thread with too few observed ticks for a share near one half to be known within this is
#: marked ``few_samples`` (fewer than about 100 ticks): the 10-point bound the calibration
#: suite holds the states to (tests/calibration, docs/measurement.md "Calibration").
FEW_SAMPLES_ERROR = 0.10
#: The report warns when a thread's states disagree with its CPU clock by more than this and
#: by more than the thread's sampling error: a stated choice, half the calibration suite's
#: 10 points (docs/measurement.md "The clock check").
CLOCK_WARN_SHARE = 0.05

_NS = 1e9


def share_error(share: float, samples: float) -> float:
    """The half-width of a share's error bar: `ERROR_Z` standard errors of a proportion over
    the ticks observed (Wilson's interval, so a share of 0 or 1 still gets one, and no ticks
    at all leave the share unknown: 1).

    The per-thread error bars and the gate's noise margins both use it, so a share's
    uncertainty is stated one way everywhere.

    It takes the ticks as independent draws. States that come in runs longer than a tick
    make the error somewhat larger; the calibration measured how much (docs/measurement.md
    "Error bars").
    """
    if samples <= 0:
        return 1.0
    n = float(samples)
    p = min(max(share, 0.0), 1.0)  # a proportion's variance is defined only within 0..1
    z2 = ERROR_Z * ERROR_Z
    spread = p * (1.0 - p) / n + z2 / (4.0 * n * n)
    return min(1.0, ERROR_Z / (1.0 + z2 / n) * math.sqrt(spread))


@dataclass(frozen=True, slots=True)
class Reconciled:
    """One thread's states against its CPU clock, as shares of its observed time."""

    cpu_share: float  # its CPU clock over its observed span
    disagreement: float  # by how much native exceeds it, or gil_held + native fall short
    error: float  # the sampling error of the shares compared


def reconcile(
    gil_held: float, native: float, cpu_share: float, held_error: float, native_error: float
) -> Reconciled:
    """The invariant: ``native <= cpu_share`` and ``gil_held + native >= cpu_share``, each
    up to the sampling error; ``gil_held`` may exceed the clock (a thread pre-empted while
    holding the GIL holds it without running)."""
    over = native - cpu_share
    short = cpu_share - (gil_held + native)
    error = max(native_error, math.hypot(held_error, native_error))
    return Reconciled(cpu_share, max(0.0, over, short), error)


@dataclass(frozen=True, slots=True)
class ThreadClockFigures:
    """What the clocks and the sampling error add to one thread's profile."""

    observed_samples: int
    share_errors: States
    few_samples: bool
    starved_share: float
    pre_empted_share: float
    cpu_clock_share: float | None
    clock_disagreement: float | None
    clock_error: float | None
    clock_source: str | None  # "schedstat", "stat" (CPU ticks), or None
    #: Variance of each state's seconds from sampling (s^2), for the verdict's confidence.
    seconds_variance: States

    def without_pre_empted(self, worker: States, alive_s: float) -> States:
        """Worker seconds with the GIL-held time spent pre-empted moved to ``unknown``: it is
        the machine's load, not the program's Python work (like waiting for a CPU)."""
        held = worker.get("gil_held")
        moved = min(held, self.pre_empted_share * alive_s)
        return dataclasses.replace(worker, gil_held=held - moved, unknown=worker.unknown + moved)

    def worker_variance(self, seconds: States, worker: States) -> States:
        """The variance of the thread's worker seconds: coordination waits taken out of a
        state take their share of its variance with them."""
        return States.from_counts(
            {
                k: self.seconds_variance.get(k) * (worker.get(k) / seconds.get(k)) ** 2
                if seconds.get(k) > 0
                else 0.0
                for k in STATE_KEYS
            }
        )


def thread_figures(
    acc: ThreadCounters, interval_s: float, clock_ticks_hz: int
) -> ThreadClockFigures:
    """Error bars, the starved share and the clock check of one thread's counters."""
    samples = acc.samples
    observed = samples - acc.missed
    total = float(samples) or 1.0
    errors = {}
    variances = {}
    alive_s = samples * interval_s
    for key in STATE_KEYS:
        # a share of the alive time, known from the ticks observed (missed ones tell nothing)
        share = acc.counts.get(key, 0) / total
        errors[key] = share_error(share, observed)
        variances[key] = (alive_s * errors[key] / ERROR_Z) ** 2
    few = share_error(0.5, observed) > FEW_SAMPLES_ERROR
    cpu_share, source = _cpu_clock_share(acc, clock_ticks_hz)
    disagreement = error = None
    pre_empted = 0.0
    if cpu_share is not None and observed > 0:
        held = acc.counts.get("gil_held", 0) / observed
        native = acc.counts.get("native", 0) / observed
        checked = reconcile(
            held,
            native,
            cpu_share,
            share_error(held, observed),
            share_error(native, observed),
        )
        if not few:  # the check is recorded for threads whose shares mean something
            disagreement, error = checked.disagreement, checked.error
        # GIL held beyond the CPU the thread got, by more than the sampling error: held
        # while pre-empted (a runnable thread that holds the GIL reads as gil_held); the
        # error bar alone decides, so a short thread's is left out of the work too
        excess = held + native - cpu_share
        if excess > checked.error:
            pre_empted = min(held, excess) * observed / total
    return ThreadClockFigures(
        observed_samples=observed,
        share_errors=States.from_counts(errors),
        few_samples=few,
        starved_share=acc.starved / total,
        pre_empted_share=pre_empted,
        cpu_clock_share=cpu_share,
        clock_disagreement=disagreement,
        clock_error=error,
        clock_source=source,
        seconds_variance=States.from_counts(variances),
    )


def _cpu_clock_share(acc: ThreadCounters, clock_ticks_hz: int) -> tuple[float | None, str | None]:
    """The thread's CPU time over its observed span, from the scheduler's clock where read,
    else from its CPU ticks (``utime + stime``, one clock tick of resolution)."""
    first, last = acc.first_clock, acc.last_clock
    if first is None or last is None or last[0] <= first[0]:
        return None, None
    span_s = last[0] - first[0]
    if first[1] is not None and last[1] is not None:
        return (last[1] - first[1]) / _NS / span_s, "schedstat"
    return (last[2] - first[2]) / clock_ticks_hz / span_s, "stat"


def clock_check(
    processes: list[ProcessProfile], figures: dict[tuple[int, int], ThreadClockFigures]
) -> ClockCheck | None:
    """The largest disagreement between a thread's states and its CPU clock, over all threads
    checked (None when no thread had a clock and enough samples)."""
    checked = []
    for process in processes:
        for thread in process.threads:
            f = figures.get((process.pid, thread.tid))
            if f is None or f.clock_disagreement is None or f.clock_error is None:
                continue
            checked.append((f.clock_disagreement, f.clock_error, process.pid, thread, f))
    if not checked:
        return None
    worst = max(checked, key=lambda c: (c[0], -c[2], -c[3].tid))
    disagreement, error, pid, thread, f = worst
    over = sum(1 for d, e, *_ in checked if d > max(CLOCK_WARN_SHARE, e))
    return ClockCheck(
        source=f.clock_source or "stat",
        threads_checked=len(checked),
        largest_disagreement=disagreement,
        pid=pid,
        tid=thread.tid,
        thread=thread.name,
        error=error,
        threads_over=over,
        warn_share=CLOCK_WARN_SHARE,
    )
