"""attach on a hung process: every thread blocked on locks, no progress: a likely deadlock.

From outside nobody sees which thread holds a plain ``Lock``, so there is no wait-for cycle
to find; what the samples do show is the stall itself. Over the last ``window_s`` seconds of
the run, every Python thread of the attached process was blocked in ``sync`` (at least
`STALL_SYNC_SHARE` of its observed samples), the process used almost no CPU
(`STALL_MAX_CORES`), and at least one thread's wait is a lock's, not a join or a queue's
(`stack_roles.is_coordination`): an idle pool waiting for work is not a deadlock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import PurePath

from concdiag.analysis.accounting.result import Accounting
from concdiag.analysis.accounting.stack_roles import is_coordination
from concdiag.analysis.verdict.thresholds import STALL_MAX_CORES, STALL_SYNC_SHARE
from concdiag.model import Frame, Lane, StackCount
from concdiag.model.locks import CodeLine, Deadlock, LockReport, ThreadStack

_WAITS = ("gil_held", "gil_wait", "native", "io", "sync")


def _stalled(lane: Lane, first: int, last: int) -> bool | None:
    """Whether a thread was blocked in sync in bins [first, last); None when unobserved."""
    observed = sum(sum(lane.shares[k][first:last]) for k in _WAITS)
    if observed <= 0:
        return None
    return sum(lane.shares["sync"][first:last]) >= STALL_SYNC_SHARE * observed


def _stall_start(lanes: list[Lane], cores: list[float], window: int) -> int | None:
    """The first bin of a stall covering (at least) the last ``window`` bins, or None."""
    end = len(cores)
    if window > end:
        return None
    first = end - window
    if sum(cores[first:end]) / window >= STALL_MAX_CORES:
        return None
    seen = [v for v in (_stalled(lane, first, end) for lane in lanes) if v is not None]
    if not seen or not all(seen):
        return None
    while first > 0 and cores[first - 1] < STALL_MAX_CORES:
        before = [_stalled(lane, first - 1, first) for lane in lanes]
        if not all(v for v in before if v is not None):
            break
        first -= 1
    return first


def _main_sync_stack(
    pid: int, tid: int, frames: Sequence[Frame], stacks: Sequence[StackCount]
) -> tuple[tuple[str, str, int], ...]:
    best = max(
        (s for s in stacks if s.pid == pid and s.tid == tid and s.state == "sync"),
        key=lambda s: s.count,
        default=None,
    )
    if best is None:
        return ()
    return tuple((frames[i].function, frames[i].file, frames[i].line) for i in best.frames)


def likely_deadlock(
    acc: Accounting, frames: Sequence[Frame], stacks: Sequence[StackCount], window_s: float
) -> LockReport | None:
    """The ``locks`` part of an attach profile when its threads look deadlocked, else None."""
    root = next((p for p in acc.processes if p.is_root), None)
    timeline = acc.timeline
    if root is None or not timeline.t_s or timeline.bin_s <= 0:
        return None
    python = {t.tid: t for t in root.threads if t.python}
    lanes = [lane for lane in timeline.lanes if lane.pid == root.pid and lane.tid in python]
    window = max(1, math.ceil(window_s / timeline.bin_s - 1e-9))
    start = _stall_start(lanes, timeline.cores_used, window)
    if start is None:
        return None
    end = len(timeline.t_s)
    stuck = [lane for lane in lanes if _stalled(lane, start, end)]
    thread_stacks = {
        lane.tid: _main_sync_stack(root.pid, lane.tid, frames, stacks) for lane in stuck
    }
    if not any(s and not is_coordination(s) for s in thread_stacks.values()):
        return None
    lasted_s = min(acc.wall_s, (end - start) * timeline.bin_s)
    views = []
    waits = []
    for tid, stack in thread_stacks.items():
        name = python[tid].name
        views.append(
            ThreadStack(
                tid=tid,
                name=name,
                frames=[CodeLine(f[1], f[2], f[0]) for f in stack],
                state="sync",
            )
        )
        if stack and not is_coordination(stack):
            leaf = stack[-1]
            waits.append(f"{name} waits at {PurePath(leaf[1]).name}:{leaf[2]}")
    message = (
        f"Every thread blocked on locks with no progress for {lasted_s:.1f} s: likely "
        f"deadlock ({'; '.join(waits)})."
    )
    deadlock = Deadlock(
        confirmed=False,
        message=message,
        lasted_s=lasted_s,
        detected_at_s=None,
        cycle=[],
        stacks=views,
    )
    return LockReport(
        tracked=False,
        sample_every=None,
        lock_sites=0,
        wait_s=0.0,
        waiting_threads_sync_s=None,
        locks=[],
        deadlock=deadlock,
        notes=[
            "attach sees no lock owners (a plain Lock records none): the stall is inferred "
            "from the samples; `concdiag profile` finds the wait-for cycle itself"
        ],
    )
