"""The verdict's confidence: how likely a rerun is to give the same recommendation, from the
margins the verdict rests on and the error bars of the figures, on synthetic inputs."""

from __future__ import annotations

import dataclasses

from concdiag.analysis import build_profile
from concdiag.analysis.accounting.streaming import StreamingAccounting
from concdiag.analysis.verdict import thresholds
from concdiag.analysis.verdict.decide import decide
from concdiag.analysis.verdict.inputs import Inputs
from concdiag.model import States
from conftest import load_recording
from helpers import context
from test_verdict_rules import BASE

PYTHON = dataclasses.replace(BASE, python_cpu_s=2.0, gil_wait_s=2.0, worker_threads=2, samples=400)


def confidence(inputs: Inputs) -> float:
    return decide(inputs, "threading", "2 threads", []).confidence


def python_work(seconds: float, **changes: object) -> Inputs:
    return dataclasses.replace(
        PYTHON, python_cpu_s=seconds, gil_wait_s=seconds, wall_s=seconds, **changes
    )  # type: ignore[arg-type]


def test_far_from_every_margin_is_nearly_certain() -> None:
    pooled = dataclasses.replace(PYTHON, pool_in_workers=True)
    v = decide(pooled, "multiprocessing", "2 child Python processes", [])
    assert v.recommendation == "multiprocessing"
    assert v.confidence == thresholds.MAX_CONFIDENCE
    # the same work on threads: what processes would pay to ship the tasks was not measured
    on_threads = decide(PYTHON, "threading", "2 threads", [])
    assert on_threads.recommendation == "multiprocessing"
    assert on_threads.confidence == thresholds.UNMEASURED_SHIPPING_CONFIDENCE
    assert any(r.rule == "arguments_unmeasured" for r in on_threads.reasons)


def test_on_the_small_saving_floor_it_is_a_coin_toss() -> None:
    # 2 threads of Python work on 2 cores: threads gain nothing, processes about 1.7x; the
    # saving, work x (1 - 1/gain), reaches the 0.1 s floor (MIN_SAVING_S) at about P = 0.26 s:
    # serial below it, multiprocessing above, a coin toss on it
    assert decide(python_work(0.08), "threading", "", []).recommendation == "serial"
    small = decide(python_work(0.12), "threading", "", [])
    assert small.recommendation == "serial"
    assert any(r.rule == "small_saving" for r in small.reasons)
    on_floor = decide(python_work(0.26), "threading", "", [])
    # the verdict is the answer most reruns give, named as such when it is not the figures' own
    assert on_floor.recommendation in ("multiprocessing", "serial")
    assert 0.5 <= on_floor.confidence <= 0.7
    switched = [r for r in on_floor.reasons if r.rule == "rerun_majority"]
    if switched:
        assert switched[0].figures["share_majority"] > switched[0].figures["share_measured"]
    # two pure-Python threads, 0.46 s of work: multiprocessing, as confidently as a run on
    # threads allows (processes are the only way to gain, the saving is clear of the floor,
    # and only the unmeasured cost of shipping the tasks caps it)
    issue_case = decide(python_work(0.46), "threading", "", [])
    assert issue_case.recommendation == "multiprocessing"
    assert issue_case.confidence == thresholds.UNMEASURED_SHIPPING_CONFIDENCE
    assert confidence(python_work(1.0)) == thresholds.UNMEASURED_SHIPPING_CONFIDENCE


def test_confidence_grows_with_the_margin() -> None:
    values = [confidence(python_work(s)) for s in (0.27, 0.3, 0.33, 0.36, 0.4)]
    assert values == sorted(values)
    assert values[0] < values[-1]


def test_wider_error_bars_lower_it_near_a_margin() -> None:
    sure = confidence(python_work(0.3))
    noisy = confidence(python_work(0.3, variance_s2=States(gil_held=0.01)))
    assert noisy < sure


def test_it_is_the_same_every_time() -> None:
    assert len({confidence(python_work(0.27)) for _ in range(3)}) == 1


def test_a_bound_near_its_share_is_not_confident() -> None:
    # CPU exactly at the CPU-bound share, the rest I/O: bound (and with it the
    # recommendation for native work) may go either way on a rerun
    share = thresholds.CPU_BOUND_SHARE
    edge = dataclasses.replace(
        PYTHON, python_cpu_s=0.0, gil_wait_s=0.0, native_cpu_s=share * 4, io_s=(1 - share) * 4
    )
    clear = dataclasses.replace(edge, native_cpu_s=4.0, io_s=0.0)
    assert confidence(clear) > 0.9
    assert decide(edge, "threading", "", []).recommendation == "threading"


def test_blind_spots_cap_it() -> None:
    blind = dataclasses.replace(PYTHON, gil_measured=False)
    assert confidence(blind) == thresholds.NO_GIL_WORD_CONFIDENCE
    no_stacks = dataclasses.replace(PYTHON, stacks_available=False)
    assert confidence(no_stacks) == thresholds.NO_STACKS_CONFIDENCE


def test_a_streamed_run_with_stacks_is_not_taken_for_one_without() -> None:
    # the collectors stream stacks into the accounting, so the recording keeps none itself
    rec = load_recording("cpu_threads")
    streamed = StreamingAccounting(rec, start_s=rec.start_s)
    streamed.feed(rec.ticks, rec.stacks)
    live = dataclasses.replace(rec, ticks=(), stacks={})
    profile = build_profile(live, context(), accounting=streamed.finish(live))
    assert profile.verdict.confidence > thresholds.NO_STACKS_CONFIDENCE


def test_the_verdict_is_what_most_reruns_give() -> None:
    from collections import Counter

    from concdiag.analysis.verdict.confidence import rerun_majority

    split = Counter({"serial": 220, "multiprocessing": 180})
    assert rerun_majority(split, "multiprocessing") == "serial"
    assert rerun_majority(split, "serial") == "serial"
    tie = Counter({"serial": 200, "multiprocessing": 200})
    assert rerun_majority(tie, "multiprocessing") == "multiprocessing"  # a tie keeps the figures'
    three = Counter({"threading": 180, "multiprocessing": 110, "serial": 110})
    assert rerun_majority(three, "serial") == "serial"  # no answer has a majority
    three = Counter({"threading": 210, "multiprocessing": 100, "serial": 90})
    assert rerun_majority(three, "serial") == "threading"
