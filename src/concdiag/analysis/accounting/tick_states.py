"""Turn one observation of one thread into one of the six states.

The rules (documented with their error bounds in docs/measurement.md):

- runnable (``R``) and holding the GIL: ``gil_held``;
- runnable without the GIL (or on a build without a GIL): ``native``;
- blocked in ``futex`` on the GIL state: ``gil_wait``;
- blocked in ``futex`` elsewhere, or in ``flock``/``fcntl`` (file locks): ``sync`` (locks,
  conditions, queues, events, joins);
- blocked in any other system call (read, recv, poll, sleep, wait4...): ``io``;
- anything else (stopped, zombie, unreadable): ``unknown``.

On Python 3.15+ each thread state says itself whether it holds the GIL and whether it asked
for it (``holds_gil``, ``gil_requested``); where read, they come first: holding is
``gil_held`` (both may briefly be set together: holding wins, as in CPython's own sampler),
asking without holding is ``gil_wait`` whatever the scheduler state.

Separately, a wait is *coordination* when the thread waits for other workers rather than
for a contended resource: joins, futures, pool results, an idle pool worker waiting for a
task. Coordination is still counted in its state, but the verdict looks at worker time
without it, so a main thread that joins its workers does not make a program look lock-bound.
Likewise CPU spent running a pool's machinery (submitting, pickling, piping) is *pool
overhead*: the price of the current parallelism, which the speedup model charges to processes.
Both are judged from the thread's stack, in `stack_roles`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from concdiag.analysis.accounting.tick_clocks import REQUESTED, resolve_on_cpu
from concdiag.recording.recording import RunSoFar
from concdiag.recording.records import ThreadObservation, Tick
from concdiag.recording.syscalls import SyscallTable


def classify(obs: ThreadObservation, tick: Tick, gil_enabled: bool, syscalls: SyscallTable) -> str:
    """The state of one thread at one tick, by the per-tick rules above."""
    if gil_enabled and obs.holds_gil is not None and obs.proc_state in ("R", "S", "D", "I"):
        if obs.holds_gil and obs.proc_state == "R":
            return "gil_held"
        if obs.gil_requested and not obs.holds_gil:
            # runnable with the GIL requested: taking it, or queued for a CPU to take it,
            # which the on-CPU rule tells apart (`clocks.REQUESTED`); blocked: waiting for it
            return REQUESTED if obs.proc_state == "R" else "gil_wait"
    if obs.proc_state == "R":
        if not gil_enabled:
            return "native"
        if tick.gil_locked is None:
            # GIL word not readable (e.g. a child we could not locate): assume Python code.
            return "gil_held"
        if tick.gil_locked and tick.gil_holder_tid == obs.tid:
            return "gil_held"
        return "native"
    if obs.proc_state in ("S", "D", "I"):
        if obs.futex_on_gil and gil_enabled:
            return "gil_wait"
        if obs.syscall is None:
            return "unknown"
        if obs.syscall in syscalls.futex or obs.syscall in syscalls.file_lock:
            return "sync"
        return "io"
    return "unknown"


#: Longest run of runnable-without-the-GIL samples that can be a GIL hand-off (2 ticks).
HANDOFF_MAX_RUN = 2
_GIL_STATES = ("gil_held", "gil_wait")


def _native_runs(states: list[str]) -> Iterator[tuple[int, int]]:
    """(start, end) of each maximal run of ``native`` ticks, read as the caller relabels."""
    i = 0
    n = len(states)
    while i < n:
        if states[i] != "native":
            i += 1
            continue
        j = i
        while j < n and states[j] == "native":
            j += 1
        yield i, j
        i = j


def resolve_handoffs(states: list[str], switches: list[int | None]) -> int:
    """Re-label GIL hand-offs that the per-tick rule saw as ``native``; returns how many.

    A Python thread that has just dropped the GIL, or was just woken to take it, is runnable
    but not the holder, so one tick alone calls it ``native``. It is a hand-off when a short
    run (at most ``HANDOFF_MAX_RUN`` ticks) of such samples sits between the thread's own
    GIL-held or GIL-wait samples *and* the GIL changed hands across the run (the
    interpreter's switch counter moved, which it does only when another thread takes the
    GIL). Serial code calling short native functions never changes hands, so it keeps its
    ``native`` time. Cost: native calls shorter than two ticks, made between GIL waits of a
    contended thread, count as ``gil_wait`` (see docs/measurement.md).
    """
    changed = 0
    n = len(states)
    for i, j in _native_runs(states):
        run = j - i
        before, after = i - 1, j
        if (
            run <= HANDOFF_MAX_RUN
            and before >= 0
            and after < n
            and states[before] in _GIL_STATES
            and states[after] in _GIL_STATES
            and switches[before] is not None
            and switches[after] is not None
            and switches[after] != switches[before]
        ):
            for k in range(i, j):
                states[k] = "gil_wait"
            changed += run
    return changed


#: A run of runnable ticks this long or longer is judged by the CPU the thread got in it.
STARVED_MIN_RUN = 3
#: Below this share of the run's ticks of CPU gained, the thread was waiting for a CPU.
STARVED_CPU_SHARE = 0.10
_WAIT_STATES = ("gil_wait", "io", "sync")


def resolve_starved(
    states: list[str], cpu_ticks: list[int], cpu_ticks_per_sample: float = 1.0
) -> int:
    """Re-label runnable ticks in which the thread did not run; returns how many.

    On a busy machine a thread woken from a wait sits runnable in the run queue, waiting for
    a CPU, and reads as ``native`` (runnable, not the GIL holder). Over a run of at least
    ``STARVED_MIN_RUN`` such ticks its CPU time (``utime + stime``, in clock ticks) tells:
    a thread running native code gains about one tick of CPU per tick, even a starved one
    its fair share; one that gained under ``STARVED_CPU_SHARE`` did not run. Its wait goes
    on: the run takes the state the thread was waiting in before it (GIL, I/O, lock), or
    ``gil_wait`` when it only leads to the GIL. ``cpu_ticks_per_sample`` is the kernel's clock
    ticks per sampling interval (USER_HZ / rate: 1 at the default 100 Hz).
    """
    changed = 0
    n = len(states)
    for i, j in _native_runs(states):
        run = j - i
        before = i - 1
        if run >= STARVED_MIN_RUN and before >= 0:
            gained = cpu_ticks[j - 1] - cpu_ticks[before]
            if gained < STARVED_CPU_SHARE * run * cpu_ticks_per_sample:
                label = None
                if states[before] in _WAIT_STATES:
                    label = states[before]
                elif j < n and states[j] in _GIL_STATES:
                    label = "gil_wait"
                if label is not None:
                    for k in range(i, j):
                        states[k] = label
                    changed += run
    return changed


def classify_all(recording: RunSoFar, ticks: list[Tick]) -> dict[tuple[int, int], list[str]]:
    """Each thread's state at each of its ticks, in order, with the sequence rules applied.

    The per-tick rule (`classify`) first; then the rules that look at a thread's neighbouring
    ticks: where its scheduler clocks were read, the on-CPU rule (`tick_clocks.resolve_on_cpu`:
    running native code, or waiting for a CPU); without them, for Python threads, the
    guesses it replaces (GIL hand-offs, starved runs judged by coarse CPU ticks).
    """
    gil_enabled = recording.target.gil_enabled
    syscalls = recording.syscalls
    per_sample = recording.clock_ticks_hz / recording.rate_hz
    states: dict[tuple[int, int], list[str]] = defaultdict(list)
    seen: dict[tuple[int, int], list[tuple[Tick, ThreadObservation]]] = defaultdict(list)
    for tick in ticks:
        for obs in tick.threads:
            key = (tick.pid, obs.tid)
            state = classify(obs, tick, gil_enabled, syscalls)
            info = recording.threads.get(key)
            if info is not None and not info.python and state == "gil_held":
                state = "native"  # a native-only thread cannot hold the GIL
            states[key].append(state)
            seen[key].append((tick, obs))
    for key, sequence in states.items():
        observed = seen[key]
        if all(o.run_ns is not None for _, o in observed):
            resolve_on_cpu(
                sequence,
                [o.proc_state == "R" for _, o in observed],
                [t.t_s for t, _ in observed],
                [o.run_ns or 0 for _, o in observed],
                [o.run_delay_ns or 0 for _, o in observed],
                [o.timeslices for _, o in observed],
                [round(t.t_s * recording.rate_hz) for t, _ in observed],
                key[1],
                [t.gil_switches if gil_enabled else None for t, _ in observed],
            )
            continue
        for i, state in enumerate(sequence):
            if state == REQUESTED:  # no clocks to tell a queued thread apart
                sequence[i] = "gil_wait"
        info = recording.threads.get(key)
        if info is not None and info.python:
            if gil_enabled:
                resolve_handoffs(sequence, [t.gil_switches for t, _ in observed])
            resolve_starved(sequence, [o.cpu_ticks for _, o in observed], per_sample)
    return states


def is_sleep(obs: ThreadObservation, syscalls: SyscallTable) -> bool:
    return obs.syscall in syscalls.sleep
