"""The profile's ``event_loop``: the loop thread's idle and busy time and its slow stretches,
from the accounting's loop ticks (`accounting.event_loop`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from concdiag.analysis.accounting.event_loop import SLOW_CALLBACK_S, LoopTally, Stretch
from concdiag.model import ProcessProfile
from concdiag.model.event_loop import EventLoop, LoopStall

#: Slow stretches kept in the profile, longest first.
STALLS_KEPT = 10
#: A stretch is CPU (Python code holding the GIL) when its thread held the GIL in at least
#: this share of its ticks: the majority, as for a CPU bound's kind (CPU_KIND_SPLIT).
CPU_STALL_SHARE = 0.5
#: A thread counts as the program's event loop after this many ticks inside one: a stated
#: choice, a tenth of a second at the default rate, so a loop started for one call is not it.
MIN_LOOP_TICKS = 10


def event_loop(
    loops: Mapping[tuple[int, int], LoopTally],
    processes: Sequence[ProcessProfile],
    tick_s: float,
) -> EventLoop | None:
    """The busiest loop thread's figures, or None when no thread ran a loop for long."""
    if not loops:
        return None
    (pid, tid), tally = max(loops.items(), key=lambda item: (item[1].ticks, -item[0][1]))
    if tally.ticks < MIN_LOOP_TICKS or tally.unreadable > tally.ticks / 2:
        # too short to be the program's loop; or its thread's blocking calls could not be
        # read (an in-process collector denied /proc's syscall files), so idle and busy
        # cannot be told apart
        return None
    names = {(p.pid, t.tid): t.name for p in processes for t in p.threads}
    stalls = sorted((stall(s, tick_s) for s in tally.stretches), key=lambda s: -s.duration_s)
    total = tally.ticks
    return EventLoop(
        pid=pid,
        tid=tid,
        thread=names.get((pid, tid), f"thread-{tid}"),
        observed_s=round(total * tick_s, 4),
        idle_share=round(tally.idle / total, 4),
        callbacks_gil_share=round(tally.busy_held / total, 4),
        callbacks_other_share=round(tally.busy_other / total, 4),
        longest_busy_s=round(tally.longest * tick_s, 4),
        slow_limit_s=SLOW_CALLBACK_S,
        stalls=stalls[:STALLS_KEPT],
        stalls_total_s=round(sum(s.duration_s for s in stalls), 4),
    )


def stall(stretch: Stretch, tick_s: float) -> LoopStall:
    lines = [(line, n) for line, n in stretch.lines.most_common() if line is not None]
    function, file, number = lines[0][0] if lines else (None, None, None)
    held = stretch.states["gil_held"] / stretch.ticks if stretch.ticks else 0.0
    return LoopStall(
        start_s=round(stretch.start_s, 4),
        duration_s=round(stretch.ticks * tick_s, 4),
        function=function,
        file=file,
        line=number,
        kind="cpu" if held >= CPU_STALL_SHARE else "blocking",
        gil_held_share=round(held, 4),
    )
