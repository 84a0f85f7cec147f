"""Streaming accounting gives the batch analysis' figures while keeping no ticks."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest

from concdiag.analysis import build_profile
from concdiag.analysis.accounting.streaming import AccountingSink, StreamingAccounting, replay
from concdiag.recording.recording import Recording
from concdiag.recording.records import Chunk, StackChange
from conftest import DATA
from helpers import PID, Synthetic, context, synthetic

RECORDINGS = sorted(p.name.split(".")[0] for p in DATA.glob("*.recording.json"))


def _stream(rec: Recording | Synthetic, chunk: int = 37) -> StreamingAccounting:
    acc = StreamingAccounting(rec, start_s=rec.start_s)
    ticks = rec.ticks
    for i in range(0, len(ticks), chunk):
        acc.feed(ticks[i : i + chunk], rec.stacks)
    return acc


@pytest.mark.parametrize("name", RECORDINGS)
@pytest.mark.parametrize("chunk", [37, 500])
def test_chunks_give_the_whole_recordings_profile(name: str, chunk: int) -> None:
    """One accounting path: fed in chunks (as collectors stream) or whole (a replay), the
    same ticks give the same profile, bins included, to the last digit."""
    rec = Recording.load(DATA / f"{name}.recording.json")
    whole = json.loads(build_profile(rec, context(), accounting=replay(rec)).to_json())
    streamed = json.loads(
        build_profile(rec, context(), accounting=_stream(rec, chunk).finish(rec)).to_json()
    )
    assert streamed == whole


def test_timeline_bins_coarsen_exactly_as_the_run_grows() -> None:
    rec = synthetic({1000: ["H", "W"], 1001: ["W", "H"]}, ticks=7000)  # 70 s
    acc = _stream(rec, chunk=500)
    assert acc.bin_s == 0.25  # collected: 0.05 s bins would need 1400 > MAX_COLLECT_BINS
    frozen = rec.freeze()
    profile = build_profile(frozen, context(), accounting=acc.finish(frozen))
    lane = profile.timeline.lanes[0]
    assert profile.timeline.bin_s == 0.5  # shown: the first round width with <= 240 bins
    assert len(profile.timeline.t_s) == 140
    assert all(v == pytest.approx(0.5) for v in lane.shares["gil_held"])
    assert profile.timeline.gil_utilisation[0] == pytest.approx(1.0)


@pytest.mark.parametrize("name", RECORDINGS)
def test_the_sink_both_modes_feed_gives_the_replays_profile(name: str) -> None:
    """Launch and attach hand chunks to `AccountingSink`; a replay calls `replay`: the same
    ticks give the same profile through both entry points."""
    rec = Recording.load(DATA / f"{name}.recording.json")
    whole = json.loads(build_profile(rec, context(), accounting=replay(rec)).to_json())
    sink = AccountingSink()
    live = dataclasses.replace(rec, ticks=(), stacks={})
    # As the tracing collector hands over: ticks of a stretch with the stacks of that stretch.
    edges = [0.0, 0.5, 1.3, float("inf")]
    for lo, hi in itertools.pairwise(edges):
        ticks = [t for t in rec.ticks if lo <= t.t_s < hi]
        stacks = {
            key: [c for c in changes if lo <= c.t_s < hi] for key, changes in rec.stacks.items()
        }
        # a stack that began before the stretch is still the thread's stack inside it
        for key, changes in rec.stacks.items():
            before = [c for c in changes if c.t_s < lo]
            if before:
                stacks[key].insert(0, before[-1])
        sink(live, Chunk(ticks, stacks))
    streamed = json.loads(build_profile(rec, context(), accounting=sink.finish(live)).to_json())
    assert streamed == whole


def test_overlapping_stack_chunks_are_read_in_time_order() -> None:
    """Consecutive py-spy runs overlap: the stacks of a chunk reach past the handover and
    the next chunk's start before it. Each tick still gets the stack in force at its time."""

    def stack(leaf: str) -> tuple[tuple[str, str, int], ...]:
        return (("main", "a.py", 1), (leaf, "a.py", 2))

    rec = synthetic({PID: ["H"]}, ticks=200)  # 2 s, one thread
    sink = AccountingSink()
    live = dataclasses.replace(rec.freeze(), ticks=())
    key = (PID, PID)
    # The old run saw a, b, then c from 1.15 s until it stopped; the new one, started at
    # 0.9 s, saw d, then c from 1.1 s.
    old = [
        StackChange(0.0, stack("a")),
        StackChange(0.5, stack("b")),
        StackChange(1.15, stack("c")),
    ]
    new = [StackChange(0.9, stack("d")), StackChange(1.1, stack("c"))]
    sink(live, Chunk([t for t in rec.ticks if t.t_s < 1.0], {key: old}))
    sink(live, Chunk([t for t in rec.ticks if t.t_s >= 1.0], {key: new}))
    acc = sink.finish(live)
    leaves = {acc.frames[s.frames[-1]].function: s.count for s in acc.stacks}
    assert leaves == {"a": 50, "b": 40, "d": 20, "c": 90}
