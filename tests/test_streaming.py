"""Streaming accounting gives the batch analysis' figures while keeping no ticks."""

from __future__ import annotations

import pytest

from concdiag.analysis import build_profile
from concdiag.analysis.accounting import analyse
from concdiag.analysis.streaming import StreamingAccounting
from concdiag.collectors.records import Recording
from concdiag.model import STATE_KEYS
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
def test_streaming_matches_batch_on_recorded_runs(name: str) -> None:
    rec = Recording.load(DATA / f"{name}.recording.json")
    batch = analyse(rec, start_s=rec.start_s)
    stream = _stream(rec).finish()
    assert stream.samples == batch.samples
    assert stream.wall_s == pytest.approx(batch.wall_s)
    # Sequence rules (GIL hand-offs, starved runs) see each chunk with EDGE_TICKS of context
    # on both sides; runs longer than that at a chunk edge may still differ: within 2%.
    for k in STATE_KEYS:
        assert stream.summary.worker_seconds.get(k) == pytest.approx(
            batch.summary.worker_seconds.get(k), rel=0.02, abs=0.02
        ), k
    b_threads = {(p.pid, t.tid): t for p in batch.processes for t in p.threads}
    s_threads = {(p.pid, t.tid): t for p in stream.processes for t in p.threads}
    assert b_threads.keys() == s_threads.keys()
    for key, t in b_threads.items():
        assert s_threads[key].states.gil_held == pytest.approx(t.states.gil_held, abs=0.01)
        assert s_threads[key].role == t.role
    assert stream.summary.cores_used_mean == pytest.approx(batch.summary.cores_used_mean)
    a = build_profile(rec, context(), accounting=stream).verdict
    b = build_profile(rec, context()).verdict
    assert (a.bound, a.cpu_kind, a.recommendation) == (b.bound, b.cpu_kind, b.recommendation)


def test_timeline_bins_coarsen_exactly_as_the_run_grows() -> None:
    rec = synthetic({1000: ["H", "W"], 1001: ["W", "H"]}, ticks=6000)  # 60 s
    acc = _stream(rec, chunk=500)
    assert acc.bin_s == 0.5  # 0.05 s bins would need 1200 > 240
    profile = build_profile(rec, context(), accounting=acc.finish())
    lane = profile.timeline.lanes[0]
    assert len(profile.timeline.t_s) == 120
    assert all(v == pytest.approx(0.5) for v in lane.shares["gil_held"])
    assert profile.timeline.gil_utilisation[0] == pytest.approx(1.0)
