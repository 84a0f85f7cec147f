"""Who held the GIL while other threads waited for it: the accounting's per-tick charges
(each waiting thread's tick to the holder at that tick and the line it was at) summed into
the profile's ``gil_blame``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TypeVar

from concdiag.analysis.accounting.streaming import BlameKey
from concdiag.model import ProcessProfile
from concdiag.model.gil_blame import BlamedLine, BlamePair, GilBlame

#: Waiter-holder pairs kept in the profile, most wait first: a matrix a reader takes in.
PAIRS_KEPT = 24
#: Holder lines kept, overall and per pair.
LINES_KEPT = 15
LINES_PER_PAIR = 5

Line = tuple[str, str, int] | None


def gil_blame(
    charges: Mapping[BlameKey, int],
    processes: Sequence[ProcessProfile],
    tick_s: float,
) -> GilBlame | None:
    """The run's GIL blame, or None when no thread waited for the GIL."""
    if not charges:
        return None
    names = {(p.pid, t.tid): t.name for p in processes for t in p.threads}
    waited = sum(charges.values())
    pair_ticks: dict[tuple[int, int, int], int] = defaultdict(int)
    pair_lines: dict[tuple[int, int, int], dict[Line, int]] = defaultdict(lambda: defaultdict(int))
    line_ticks: dict[Line, int] = defaultdict(int)
    line_waiters: dict[Line, set[tuple[int, int]]] = defaultdict(set)
    line_holders: dict[Line, set[tuple[int, int]]] = defaultdict(set)
    for (pid, waiter, holder, line), ticks in charges.items():
        if holder is None:
            continue
        pair_ticks[(pid, waiter, holder)] += ticks
        pair_lines[(pid, waiter, holder)][line] += ticks
        line_ticks[line] += ticks
        line_waiters[line].add((pid, waiter))
        line_holders[line].add((pid, holder))

    def blamed(line: Line, ticks: int) -> BlamedLine:
        function, file, number = line if line is not None else (None, None, None)
        return BlamedLine(
            function=function,
            file=file,
            line=number,
            wait_s=round(ticks * tick_s, 4),
            waiters=len(line_waiters[line]),
            holders=len(line_holders[line]),
        )

    pairs = [
        BlamePair(
            pid=pid,
            waiter_tid=waiter,
            waiter=names.get((pid, waiter), f"thread-{waiter}"),
            holder_tid=holder,
            holder=names.get((pid, holder), f"thread-{holder}"),
            wait_s=round(ticks * tick_s, 4),
            lines=[blamed(line, n) for line, n in _ranked(pair_lines[key])[:LINES_PER_PAIR]],
        )
        for key, ticks in _ranked(pair_ticks)[:PAIRS_KEPT]
        for pid, waiter, holder in [key]
    ]
    return GilBlame(
        waited_s=round(waited * tick_s, 4),
        attributed_s=round(sum(pair_ticks.values()) * tick_s, 4),
        pairs=pairs,
        lines=[blamed(line, n) for line, n in _ranked(line_ticks)[:LINES_KEPT]],
    )


K = TypeVar("K")


def _ranked(counts: Mapping[K, int]) -> list[tuple[K, int]]:
    """Most first; ties in a stable order (native code, with no line, last)."""
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
