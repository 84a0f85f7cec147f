"""The scaling curve of `whatif --workers 1,2,4`: measured speedups over the serial run,
Amdahl's and the USL's fits, and the prediction past the cores."""

from __future__ import annotations

import pytest

from concdiag.analysis.whatif.compare import timing
from concdiag.analysis.whatif.plan import Variant, plan
from concdiag.analysis.whatif.scaling import scaling_curves, usl, usl_fit
from concdiag.cli.whatif import worker_counts
from concdiag.errors import UsageError
from concdiag.model.whatif import Alternative, ScalingPoint
from concdiag.recording.whatif import PoolSeen


def variant(family: str, workers: int, as_written: bool = False) -> Variant:
    kind = "as_written" if as_written else family
    return Variant(
        kind,
        None if as_written else workers,
        f"{family} {workers}",
        family,
        as_written,
        workers,
        family,
    )


def alt(runs: list[float]) -> Alternative:
    return Alternative(
        "x",
        "processes",
        None,
        "multiprocessing",
        False,
        "ok",
        "",
        timing(runs),
        None,
        None,
        None,
        None,
        None,
        None,
        "none",
    )


def test_a_curve_that_follows_the_usl_is_fitted_back_and_carried_past_the_cores() -> None:
    sigma, kappa = 0.1, 0.01
    t1 = 8.0
    measured = [(variant("serial", 1), alt([t1, t1, t1]))]
    for n in (2, 4):
        t = t1 / usl(n, sigma, kappa)
        measured.append((variant("processes", n, as_written=n == 2), alt([t * 0.99, t, t * 1.01])))
    (curve,) = scaling_curves(measured, cores=4)
    assert curve.family == "processes" and [p.workers for p in curve.measured] == [1, 2, 4]
    assert curve.usl_sigma == pytest.approx(sigma, abs=1e-3)
    assert curve.usl_kappa == pytest.approx(kappa, abs=1e-4)
    assert [p.workers for p in curve.predicted] == [8, 16, 32, 64]
    for p in curve.predicted:
        assert p.low <= p.speedup <= p.high
        assert p.speedup == pytest.approx(usl(p.workers, sigma, kappa), rel=0.02)
    # the USL's coherence term turns the curve down: more workers stop paying
    assert curve.predicted[-1].speedup < curve.predicted[0].speedup


def test_two_points_give_amdahls_share_and_no_coherence_term() -> None:
    measured = [
        (variant("serial", 1), alt([4.0, 4.0])),
        (variant("threads", 2, as_written=True), alt([2.5, 2.5])),
    ]
    (curve,) = scaling_curves(measured, cores=2)
    assert curve.usl_kappa is None and "cannot tell" in curve.note
    assert curve.serial_share == pytest.approx(0.25)  # 2/1.6 - 1 over 1
    assert curve.predicted[0] == ScalingPoint(
        4,
        pytest.approx(4 / 1.75, rel=1e-3),
        pytest.approx(4 / 1.75, rel=1e-3),
        pytest.approx(4 / 1.75, rel=1e-3),
    )  # type: ignore[arg-type]


def test_a_slowdown_is_predicted_to_grow_not_flattened() -> None:
    measured = [(variant("serial", 1), alt([2.0])), (variant("threads", 2, True), alt([2.4]))]
    (curve,) = scaling_curves(measured, cores=2)
    assert curve.measured[1].speedup < 1
    assert curve.predicted[0].speedup < curve.measured[1].speedup


def test_no_serial_baseline_no_curve() -> None:
    assert scaling_curves([(variant("threads", 2, True), alt([1.0]))], cores=2) == []


def test_usl_fit_of_one_count_is_the_contention_term_alone() -> None:
    sigma, kappa = usl_fit([ScalingPoint(2, 1.6, 1.6, 1.6)])
    assert kappa is None and sigma == pytest.approx(0.25)


def test_counts_plan_each_kind_at_each_count_beside_the_serial_baseline() -> None:
    pools = [PoolSeen("thread_pool_executor", "/app/main.py", 9, "", 2, 2, None, None, "", True, 1)]
    variants = plan(pools, cores=2, interpreters=False, sweep=True, counts=(1, 2, 4))
    assert [(v.kind, v.effective_workers) for v in variants] == [
        ("as_written", 2),
        ("serial", 1),
        ("threads", 4),
        ("processes", 2),
        ("processes", 4),
    ]


def test_worker_counts_are_checked_in_one_line() -> None:
    assert worker_counts("all") == () and worker_counts("4,1,2,2") == (1, 2, 4)
    for bad in ("0,2", "two", "1,2,1000", ""):
        with pytest.raises(UsageError):
            worker_counts(bad)


def test_a_curve_with_little_serial_time_says_it_would_keep_gaining() -> None:
    measured = [
        (variant("serial", 1), alt([8.0, 8.0])),
        (variant("processes", 2, as_written=True), alt([4.1, 4.2])),
    ]
    (curve,) = scaling_curves(measured, cores=2)
    assert "leaves room past this machine" in curve.note and "at 4 workers" in curve.note
    slow = [(variant("serial", 1), alt([8.0])), (variant("processes", 2, True), alt([7.0]))]
    (flat,) = scaling_curves(slow, cores=2)
    assert "leaves room" not in flat.note
