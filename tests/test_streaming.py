"""Streaming accounting gives the batch analysis' figures while keeping no ticks."""

from __future__ import annotations

import json

import pytest

from concdiag.analysis import build_profile
from concdiag.analysis.accounting import StreamingAccounting, analyse
from concdiag.collectors.records import Recording
from conftest import DATA
from helpers import context, synthetic

RECORDINGS = sorted(p.name.split(".")[0] for p in DATA.glob("*.recording.json"))


def _stream(rec: Recording, chunk: int = 37) -> StreamingAccounting:
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
    whole = json.loads(build_profile(rec, context(), accounting=analyse(rec)).to_json())
    streamed = json.loads(
        build_profile(rec, context(), accounting=_stream(rec, chunk).finish()).to_json()
    )
    assert streamed == whole


def test_timeline_bins_coarsen_exactly_as_the_run_grows() -> None:
    rec = synthetic({1000: ["H", "W"], 1001: ["W", "H"]}, ticks=7000)  # 70 s
    acc = _stream(rec, chunk=500)
    assert acc.bin_s == 0.25  # collected: 0.05 s bins would need 1400 > MAX_COLLECT_BINS
    profile = build_profile(rec, context(), accounting=acc.finish())
    lane = profile.timeline.lanes[0]
    assert profile.timeline.bin_s == 0.5  # shown: the first round width with <= 240 bins
    assert len(profile.timeline.t_s) == 140
    assert all(v == pytest.approx(0.5) for v in lane.shares["gil_held"])
    assert profile.timeline.gil_utilisation[0] == pytest.approx(1.0)
