"""Verdicts on recorded runs of the sample targets (real /proc and py-spy data, replayed)."""

from __future__ import annotations

import pytest

from concdiag.analysis import replay_profile
from conftest import load_recording
from helpers import context

CASES = {
    "cpu_threads": ("cpu", "python", "multiprocessing", "threading"),
    "cpu_serial": ("cpu", "python", "multiprocessing", "serial"),
    "native_threads": ("cpu", "native", "threading", "threading"),
    "io_threads": ("io", None, "threading", "threading"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_verdict(name: str) -> None:
    bound, cpu_kind, recommendation, current = CASES[name]
    profile = replay_profile(load_recording(name), context(f"{name}.py"))
    v = profile.verdict
    assert (v.bound, v.cpu_kind, v.recommendation) == (bound, cpu_kind, recommendation)
    assert v.current_model.kind == current
    assert 0.5 <= v.confidence <= 1.0
    for reason in v.reasons:
        assert reason.figures, f"reason {reason.rule} carries no figures"


def test_recorded_analysis_is_deterministic() -> None:
    rec = load_recording("cpu_threads")
    a = replay_profile(rec, context()).to_json()
    b = replay_profile(rec, context()).to_json()
    assert a == b


def test_cpu_threads_measured_gil_figures() -> None:
    profile = replay_profile(load_recording("cpu_threads"), context())
    root = profile.processes[0]
    assert root.gil.measured
    assert root.gil.utilisation is not None and root.gil.utilisation > 0.85
    workers = [t for t in root.threads if t.role == "worker"]
    assert len(workers) == 4
    # four pure-Python threads: each holds the GIL about a quarter of its alive time
    for t in workers:
        assert t.states.gil_held == pytest.approx(0.25, abs=0.10)
        assert t.states.gil_wait + t.states.gil_held > 0.8
