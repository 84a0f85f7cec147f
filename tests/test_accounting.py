"""State accounting on synthetic recordings whose truth is known by construction."""

from __future__ import annotations

import pytest

from helpers import PID, profile_of, synthetic

JOIN_STACK = (
    ("main", "/app/script.py", 10),
    ("Thread.join", "/usr/lib/python3.11/threading.py", 1112),
)
LOCK_STACK = (("work", "/app/script.py", 20),)


def thread(profile, tid):
    return next(t for p in profile.processes for t in p.threads if t.tid == tid)


def test_shares_sum_to_one_and_match_construction() -> None:
    rec = synthetic({PID: ["H", "W"], PID + 1: ["W", "H"]})
    profile = profile_of(rec)
    for tid in (PID, PID + 1):
        t = thread(profile, tid)
        assert t.states.total() == pytest.approx(1.0)
        assert t.states.gil_held == pytest.approx(0.5)
        assert t.states.gil_wait == pytest.approx(0.5)
        assert t.state_seconds.total() == pytest.approx(t.alive_s)
    assert profile.summary.gil_utilisation == pytest.approx(1.0)


def test_k_threads_each_hold_the_gil_one_kth_of_the_time() -> None:
    k = 4
    pattern = {PID + i: ["W"] * i + ["H"] + ["W"] * (k - 1 - i) for i in range(k)}
    profile = profile_of(synthetic(pattern, ticks=400))
    for i in range(k):
        assert thread(profile, PID + i).states.gil_held == pytest.approx(1 / k)


def test_missed_ticks_become_unknown() -> None:
    rec = synthetic({PID: ["H"]}, ticks=100)
    del rec.ticks[40:50]  # the sampler fell behind for 10 ticks
    t = thread(profile_of(rec), PID)
    assert t.states.unknown == pytest.approx(0.1)
    assert t.states.total() == pytest.approx(1.0)


def test_native_threads_run_without_the_gil() -> None:
    profile = profile_of(synthetic({PID: ["-"], PID + 1: ["N"], PID + 2: ["N"]}))
    assert thread(profile, PID + 1).states.native == pytest.approx(1.0)
    assert profile.verdict.bound == "cpu"
    assert profile.verdict.cpu_kind == "native"
    assert profile.verdict.recommendation == "threading"


def test_join_wait_is_coordination_not_lock_contention() -> None:
    rec = synthetic(
        {PID: ["L"], PID + 1: ["H", "W"], PID + 2: ["W", "H"]},
        stacks={PID: JOIN_STACK},
    )
    profile = profile_of(rec)
    main = thread(profile, PID)
    assert main.states.sync == pytest.approx(1.0)  # measured as it was
    assert main.role == "coordinator"
    assert profile.summary.worker_seconds.sync == pytest.approx(0.0)
    assert profile.verdict.bound == "cpu"
    assert profile.verdict.cpu_kind == "python"
    assert profile.verdict.recommendation == "multiprocessing"
    assert profile.verdict.current_model.kind == "threading"
    assert profile.verdict.current_model.matches is False


def test_lock_held_across_io_is_sync_bound() -> None:
    # four threads take turns holding one lock across a blocking call
    k = 4
    pattern = {PID + 1 + i: ["L"] * i + ["I"] + ["L"] * (k - 1 - i) for i in range(k)}
    pattern[PID] = ["L"]
    profile = profile_of(
        synthetic(
            pattern,
            ticks=400,
            stacks={PID: JOIN_STACK, **{t: LOCK_STACK for t in range(PID + 1, PID + 5)}},
        )
    )
    v = profile.verdict
    assert v.bound == "sync"
    assert v.recommendation == "serial"
    assert any(r.rule == "fix_lock_first" for r in v.reasons)


def test_timeline_bins_cover_the_run() -> None:
    profile = profile_of(synthetic({PID: ["H"]}, ticks=300))
    tl = profile.timeline
    assert len(tl.t_s) == len(tl.cores_used) == len(tl.gil_utilisation)
    assert tl.bin_s * len(tl.t_s) >= profile.summary.wall_s - 1e-9
    lane = tl.lanes[0]
    assert max(lane.shares["gil_held"]) == pytest.approx(1.0)


def test_free_threaded_build_recommends_threads_for_python_cpu() -> None:
    rec = synthetic({PID: ["-"], PID + 1: ["N"], PID + 2: ["N"]}, gil_enabled=False)
    v = profile_of(rec).verdict
    assert v.recommendation == "threading"
    assert any(r.rule == "free_threaded" for r in v.reasons)
