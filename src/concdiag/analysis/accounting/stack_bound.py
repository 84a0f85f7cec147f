"""Keep the profile's stack table small on long, wide runs without losing any sample.

py-spy names the line each frame is on, so a long run of a varied program can gather a
million distinct (stack, state) pairs, hundreds of megabytes of JSON. Above a bound, the most
frequent stacks are kept whole and the others are folded into their outer frames (the
callers) until the table fits: every sample still counts, in its thread and state, so
per-thread and per-state totals and the top of every flame graph are unchanged.
"""

from __future__ import annotations

from collections import Counter

from concdiag.model import Frame, StackCount

#: About 10 MB of JSON at a typical depth: the profile stays well under 20 MB.
MAX_STACKS = 40_000
_FOLD_DEPTHS = (32, 16, 8, 4, 2, 1)
OTHER = "(other stacks)"

StackKey = tuple[int, int, str, tuple[int, ...]]


def bound_stacks(
    frames: list[Frame], stacks: list[StackCount], max_stacks: int = MAX_STACKS
) -> tuple[list[Frame], list[StackCount], int]:
    """(frames, stacks, folded): the table within ``max_stacks`` entries.

    ``folded`` is how many entries were merged into their callers (0 when under the bound).
    """
    if len(stacks) <= max_stacks:
        return frames, stacks, 0
    ordered = sorted(stacks, key=lambda s: (-s.count, s.pid, s.tid, s.state, s.frames))
    keep = max_stacks // 2
    whole = ordered[:keep]
    rest = ordered[keep:]
    folded: Counter[StackKey] = Counter()
    for depth in _FOLD_DEPTHS:
        folded = Counter()
        for s in rest:
            folded[(s.pid, s.tid, s.state, tuple(s.frames[:depth]))] += s.count
        if len(folded) <= max_stacks - keep:
            break
    else:
        # Even the outermost frames vary too much: one "(other stacks)" entry per thread
        # and state, as the flame graph does.
        other = len(frames)
        frames = [*frames, Frame(OTHER, "", 0)]
        folded = Counter()
        for s in rest:
            folded[(s.pid, s.tid, s.state, (other,))] += s.count
    merged: Counter[StackKey] = Counter()
    for s in whole:
        merged[(s.pid, s.tid, s.state, tuple(s.frames))] += s.count
    merged.update(folded)
    # Renumber the frames still in use so the frame table shrinks too.
    used = sorted({i for key in merged for i in key[3]})
    index = {old: new for new, old in enumerate(used)}
    new_frames = [frames[i] for i in used]
    new_stacks = [
        StackCount(pid, tid, state, [index[i] for i in ids], count)
        for (pid, tid, state, ids), count in merged.items()
    ]
    new_stacks.sort(key=lambda s: (s.pid, s.tid, s.state, -s.count, s.frames))
    return new_frames, new_stacks, len(stacks) - len(new_stacks)
