"""The on-CPU rule: what a runnable thread without the GIL was doing, by its own clocks.

The kernel keeps, per thread, nanosecond clocks of its time on a CPU and of its time runnable
but waiting in a run queue for one (``/proc/<pid>/task/<tid>/schedstat``). They settle what
one sample cannot: whether a runnable thread that does not hold the GIL was running native
code (``native``) or waiting for a CPU (*starved*: the machine's load, not the program's
concurrency). docs/measurement.md "Per-thread states" gives the rule and its bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The label the on-CPU rule gives a runnable tick in which the thread was waiting for a CPU.
#: The accounting counts it as ``unknown`` (neither the program's CPU nor its waiting) and
#: keeps its own figure, ``starved_share``: a seventh state key would change the schema's
#: state vocabulary and every renderer for time the verdict sets aside anyway.
STARVED = "starved"

#: The per-tick rule's label for a runnable thread whose own flag says it has requested the GIL
#: (3.15+): on a CPU it is taking the GIL (``gil_wait``); queued for a CPU it is `STARVED`,
#: like a runnable thread without the GIL (waiting for a CPU is never ``gil_wait``).
REQUESTED = "requested"

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
    Whether the thread slept between two runnable samples does not count against it: counting
    it reads a thread that sleeps in GIL waits between samples about 10 points too low in
    ``native`` at 100 Hz (tests/calibration/hash_beside_python.py).
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
    tick would take the smaller of two noisy shares, which reads the hashing thread's
    ``native`` 3-5 points low.) This replaces the hand-off and starved-run guesses wherever the
    clocks were read: a native call of any length that ran stays ``native``, and waiting for a
    CPU is never ``gil_wait``. Only a single tick between two ``gil_held`` ticks has no window
    left; there the hand-off guess stays (`tick_states.resolve_handoffs`: ``gil_wait`` when
    the GIL changed hands across it).
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
