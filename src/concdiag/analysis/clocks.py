"""States checked against each thread's own clocks, and the sampling error of every share.

The kernel keeps, per thread, nanosecond clocks of its time on a CPU and of its time runnable
but waiting in a run queue for one (``/proc/<pid>/task/<tid>/schedstat``). They settle what
one sample cannot: whether a runnable thread that does not hold the GIL was running native
code (``native``) or waiting for a CPU (*starved*: the machine's load, not the program's
concurrency). After accounting, every thread's states are reconciled with its CPU clock:
``native`` may not exceed its CPU share, and ``gil_held + native`` must cover it, both up to
the sampling error. docs/measurement.md "Per-thread states" gives the rules and their bounds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from concdiag.model import STATE_KEYS, ClockCheck, ProcessProfile, States

if TYPE_CHECKING:
    from concdiag.analysis.counters import ThreadCounters

#: The label the on-CPU rule gives a runnable tick in which the thread was waiting for a CPU.
#: The accounting counts it as ``unknown`` (neither the program's CPU nor its waiting) and
#: keeps its own figure, ``starved_share``: a seventh state key would change the schema's
#: state vocabulary and every renderer for time the verdict sets aside anyway.
STARVED = "starved"

#: The per-tick rule's label for a runnable thread whose own flag says it has requested the GIL
#: (3.15+): on a CPU it is taking the GIL (``gil_wait``); queued for a CPU it is `STARVED`,
#: like a runnable thread without the GIL (waiting for a CPU is never ``gil_wait``).
REQUESTED = "requested"

#: Sampling error bars are this many standard errors wide on each side (about 95%).
ERROR_Z = 2.0
#: A thread with too few observed ticks for a share near one half to be known within this is
#: marked ``few_samples`` (fewer than about 100 ticks): the 10-point bound the calibration
#: suite holds the states to (tests/calibration, docs/measurement.md "Calibration").
FEW_SAMPLES_ERROR = 0.10
#: The report warns when a thread's states disagree with its CPU clock by more than this and
#: by more than the thread's sampling error: the bound set in issue 12, half the calibration
#: suite's 10 points.
CLOCK_WARN_SHARE = 0.05

_NS = 1e9
#: Golden-ratio step of the low-discrepancy sequence the on-CPU rule dithers with.
_PHI = 0.6180339887498949


#: How many intervals back a wait still being queued is looked for when the kernel finally
#: counts it (fewer than the accounting's context of ticks, so chunked runs label alike).
PENDING_LOOKBACK = 32


def queued_ns(
    runnable: Sequence[bool],
    times_s: Sequence[float],
    run_ns: Sequence[int],
    delay_ns: Sequence[int],
    timeslices: Sequence[int | None],
) -> list[float]:
    """For each interval between consecutive ticks, the time the thread spent queued for a CPU.

    The kernel adds a wait to the delay clock only when it ends, as the thread is put on a CPU
    (which also counts a timeslice). So in an interval with a new timeslice the delay clock's
    growth is the queued time, less what earlier intervals already counted as a wait still
    under way; in one without, a thread runnable at both ends was on a CPU or queued
    throughout (queued: the interval less what it ran, which may be negative where the run
    clock lags: summed over a window before clipping), and one woken inside it has been
    queued since, half the interval on average. A thread asleep at the end was not queued.
    Whether the thread slept between two runnable samples does not count against it (that
    lowered the hashing thread's ``native`` by 10 points: issue 12).
    """
    out: list[float] = []
    for i in range(len(times_s) - 1):
        span = (times_s[i + 1] - times_s[i]) * _NS
        ran = run_ns[i + 1] - run_ns[i]
        if _new_timeslice(timeslices, i):
            counted = 0.0
            for j in range(i - 1, max(-1, i - 1 - PENDING_LOOKBACK), -1):
                if _new_timeslice(timeslices, j):
                    break
                counted += max(0.0, out[j])
            out.append(max(0.0, delay_ns[i + 1] - delay_ns[i] - counted))
        elif runnable[i] and runnable[i + 1]:
            out.append(span - ran)
        elif runnable[i + 1]:
            out.append(span / 2)
        else:
            out.append(0.0)
    return out


def _new_timeslice(timeslices: Sequence[int | None], i: int) -> bool:
    before, after = timeslices[i], timeslices[i + 1]
    return before is None or after is None or after > before


def on_cpu_fraction(ran_ns: float, queued: float) -> float:
    """Of the time a runnable thread spent runnable, the share it ran."""
    if ran_ns <= 0:
        return 0.0
    return min(1.0, ran_ns / (ran_ns + max(0.0, queued)))


def dither(tick_index: int, tid: int) -> float:
    """A deterministic point in [0, 1) for the tick: a low-discrepancy sequence per thread,
    so a run of ticks with on-CPU fraction f is labelled on-CPU in about f of them, and the
    same tick gets the same label however the run was chunked."""
    return (tid * _PHI + tick_index * _PHI) % 1.0


def resolve_on_cpu(
    states: list[str],
    runnable: Sequence[bool],
    times_s: Sequence[float],
    run_ns: Sequence[int],
    delay_ns: Sequence[int],
    timeslices: Sequence[int | None],
    tick_indexes: Sequence[int],
    tid: int,
    switches: Sequence[int | None],
) -> int:
    """Re-label ``native`` ticks in which the thread waited for a CPU as `STARVED`.

    A ``native`` tick is runnable without the GIL. Over the window from the thread's previous
    to its next tick, its clocks say what share of its runnable time it ran
    (`on_cpu_fraction`); the tick stays ``native`` with that probability, drawn from a
    deterministic low-discrepancy sequence (`dither`), so over a run the ``native`` ticks
    follow the CPU the thread got. A neighbouring ``gil_held`` tick is left out of the window:
    the CPU beside it may be Python code, which says nothing of the tick (a thread that has
    just lost the GIL and waits for a CPU to ask for it again ran Python up to it). Runnable
    time comes from `queued_ns`. (Requiring CPU on both sides of a tick beside a ``gil_wait``
    tick was tried: the smaller of two noisy shares read the hashing thread's ``native`` 3-5
    points low.) This replaces the hand-off and starved-run guesses wherever the clocks were
    read: a native call of any length that ran stays ``native``, and waiting for a CPU is never
    ``gil_wait``. Only a single tick between two ``gil_held`` ticks has no window left; there
    the hand-off guess stays (`states.resolve_handoffs`: ``gil_wait`` when the GIL changed
    hands across it).
    Returns how many ticks were re-labelled.
    """
    changed = 0
    last = len(states) - 1
    labels = list(states)  # as the per-tick rule gave them, whatever is re-labelled here

    if "native" not in labels and REQUESTED not in labels:
        return 0
    queued = queued_ns(runnable, times_s, run_ns, delay_ns, timeslices)

    def fraction(a: int, b: int) -> float:
        return on_cpu_fraction(run_ns[b] - run_ns[a], sum(queued[a:b]))

    for k, state in enumerate(labels):
        if state not in ("native", REQUESTED):
            continue
        before = labels[k - 1] if k > 0 else None
        after = labels[k + 1] if k < last else None
        sides = [(k - 1, k)] if before not in (None, "gil_held") else []
        sides += [(k, k + 1)] if after not in (None, "gil_held") else []
        if state == REQUESTED:
            # requesting the GIL: on a CPU (taking it) or queued for one
            on_cpu = fraction(sides[0][0], sides[-1][1]) if sides else 1.0
            states[k] = "gil_wait" if dither(tick_indexes[k], tid) < on_cpu else STARVED
            changed += 1
            continue
        if not sides:
            if 0 < k < last and _moved(switches[k - 1], switches[k + 1]):
                states[k] = "gil_wait"
                changed += 1
            continue  # between two GIL-held ticks, or seen once: nothing to measure
        on_cpu = fraction(sides[0][0], sides[-1][1])
        if dither(tick_indexes[k], tid) >= on_cpu:
            states[k] = STARVED
            changed += 1
    return changed


def _moved(before: int | None, after: int | None) -> bool:
    return before is not None and after is not None and before != after


def share_error(share: float, samples: int) -> float:
    """The half-width of a share's error bar: `ERROR_Z` standard errors of a proportion over
    the thread's observed ticks (Wilson's interval, so a share of 0 or 1 still gets one).

    It takes the ticks as independent draws. States that come in runs longer than a tick
    make the error somewhat larger; the calibration measured how much (docs/measurement.md
    "Error bars").
    """
    if samples <= 0:
        return 1.0
    n = float(samples)
    z2 = ERROR_Z * ERROR_Z
    spread = share * (1.0 - share) / n + z2 / (4.0 * n * n)
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
