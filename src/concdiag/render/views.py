"""Views of a profile that several renderers share: trimmed stacks, hot code, lane runs.

Profiles since schema version 2 hold the user's stacks only (the accounting strips
concdiag's own frames, `own_code`); version 1 profiles still carry the bootstrap's and runpy's
frames above the target's code, which `trimmed_stacks` drops by the same rules, so a flame
graph starts at the target's ``<module>`` and its threads' ``Thread._bootstrap``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from concdiag.model import STATE_KEYS, Lane, Profile
from concdiag.own_code import is_launcher, is_own


@dataclass(frozen=True, slots=True)
class Stack:
    pid: int
    tid: int
    state: str
    frames: tuple[int, ...]  # indexes into Profile.frames, outermost first, launcher trimmed
    count: int


def trimmed_stacks(profile: Profile) -> list[Stack]:
    """The profile's stacks without concdiag's launcher frames, identical stacks merged."""
    merged: Counter[tuple[int, int, str, tuple[int, ...]]] = Counter()
    for s in profile.stacks:
        start = 0
        while start < len(s.frames) - 1 and is_launcher(profile.frames[s.frames[start]].file):
            start += 1
        kept = [i for i in s.frames[start:] if not is_own(profile.frames[i].file)]
        merged[(s.pid, s.tid, s.state, tuple(kept or s.frames[-1:]))] += s.count
    return [
        Stack(pid, tid, state, frames, count)
        for (pid, tid, state, frames), count in sorted(merged.items())
    ]


@dataclass(frozen=True, slots=True)
class HotLine:
    """A function at a line, ranked by the seconds threads spent there in one state."""

    function: str
    file: str
    line: int
    seconds: float
    share: float  # of all samples in this state
    threads: int  # how many threads were seen here in this state


def hot_by_state(profile: Profile, state: str, limit: int = 10) -> list[HotLine]:
    """Leaf frames of the sampled stacks in ``state``, most seconds first."""
    interval = 1.0 / profile.run.rate_hz if profile.run.rate_hz else 0.0
    samples: Counter[int] = Counter()
    threads: dict[int, set[tuple[int, int]]] = {}
    for s in profile.stacks:
        if s.state != state or not s.frames:
            continue
        leaf = s.frames[-1]
        samples[leaf] += s.count
        threads.setdefault(leaf, set()).add((s.pid, s.tid))
    total = sum(samples.values()) or 1
    ranked = sorted(samples.items(), key=lambda item: (-item[1], item[0]))[:limit]
    out = []
    for index, count in ranked:
        frame = profile.frames[index]
        out.append(
            HotLine(
                function=frame.function,
                file=frame.file,
                line=frame.line,
                seconds=count * interval,
                share=count / total,
                threads=len(threads[index]),
            )
        )
    return out


def thread_names(profile: Profile) -> dict[tuple[int, int], str]:
    return {(p.pid, t.tid): t.name for p in profile.processes for t in p.threads}


def state_index(state: str) -> int:
    return STATE_KEYS.index(state) if state in STATE_KEYS else STATE_KEYS.index("unknown")


@dataclass(frozen=True, slots=True)
class LaneRun:
    """Consecutive timeline bins in which a thread's most frequent state was the same."""

    start: int  # first bin
    length: int  # bins
    state: str
    share: float  # mean share of the bins' width the thread spent in that state


def _at(series: list[float], i: int) -> float:
    return series[i] if i < len(series) else 0.0


def lane_runs(lane: Lane, nbins: int) -> list[LaneRun]:
    """Run-length encode a lane by its dominant state; bins where it was not alive are gaps."""
    runs: list[LaneRun] = []
    current: tuple[int, str, list[float]] | None = None
    for i in range(nbins):
        # a run without a GIL has no GIL states in its lanes
        values = {k: _at(lane.shares.get(k, []), i) for k in STATE_KEYS}
        alive = sum(values.values())
        state = max(STATE_KEYS, key=lambda k: values[k]) if alive > 0 else None
        if current is not None and state != current[1]:
            start, cur_state, shares = current
            runs.append(LaneRun(start, i - start, cur_state, sum(shares) / len(shares)))
            current = None
        if state is not None:
            if current is None:
                current = (i, state, [])
            current[2].append(values[state])
    if current is not None:
        start, cur_state, shares = current
        runs.append(LaneRun(start, nbins - start, cur_state, sum(shares) / len(shares)))
    return runs


class StringTable:
    """An export format's table of strings, each stored once and named by its index;
    ``first`` is what the format puts before them (pprof: the empty string at 0)."""

    def __init__(self, first: tuple[str, ...] = ()) -> None:
        self.table: list[str] = list(first)
        self.index: dict[str, int] = {text: i for i, text in enumerate(first)}

    def __call__(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.table)
            self.table.append(text)
        return self.index[text]
