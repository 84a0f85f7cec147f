"""Calibration: profile targets that measure their own truth inside each thread.

Each target (``truth.py``) measures, inside each thread, its CPU clock, its time queued for a
CPU and the time it spent in the waits it marks (recv, acquire, sleep), and writes what each
state's share should be (or the range it should lie in).
concdiag's measured share of each state named there, over the thread's observed time (its
samples less the ticks the sampler missed), must be within 10 percentage points of it;
concdiag's reading of each thread's CPU clock must match the thread's own; no thread may
fail the clock check; and ``unknown`` other than waiting for a CPU must stay small. The
results are summarised in docs/measurement.md; bench/clocks.py reruns them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import concdiag

pytestmark = [pytest.mark.e2e, pytest.mark.figures]

HERE = Path(__file__).parent
TOLERANCE = 0.10
#: concdiag reads the thread's CPU clock from /proc; the thread reads it itself.
CLOCK_TOLERANCE = 0.03
MAX_UNKNOWN = 0.25
#: Sampling error shrinks with samples per thread: at 100 Hz a 1.2 s thread gets ~120 ticks and
#: the GIL-held share of 3 threads swapping the GIL every 5 ms was off by up to 15 points on a
#: quiet machine; at 250 Hz (~300 ticks) by at most 4.5 (docs/measurement.md, "Sampling error").
#: The hashing case runs at the default 100 Hz: the on-CPU rule (tick_clocks.queued_ns) keeps
#: its `native` within 4 points of the truth there; taking a thread runnable at two samples
#: for runnable between them would read 0.60-0.65 against a truth of 0.73-0.75 (load ~1.5).
TARGETS = {
    "gil_threads": "250",
    "hash_beside_python": "100",
    "socket_wait": "250",
    "lock_serial": "250",
}
#: Above this load per core, runnable threads wait for a CPU for many ticks and the
#: sampler itself is starved: the accuracy bounds do not hold (docs/measurement.md).
#: Margins (tests/e2e/measure_margins.py), 20 runs per target at load 0.8-4.7 on 2 cores:
#: every bound held, with at least 4 points of the 10 left on a share, 0.021 of the 0.03 on
#: the CPU clock, 0.16 of the 0.25 on unknown time and 0.016 on the clock check. At load
#: 5.3-9.2, 4 of 56 runs failed (unknown time past 0.25: threads waiting for a CPU).
MAX_LOAD_PER_CORE = 2.5


def overloaded() -> bool:
    return os.getloadavg()[0] > MAX_LOAD_PER_CORE * (os.cpu_count() or 1)


def measure(name: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    truth_path = tmp_path / "truth.json"
    json_path = tmp_path / "profile.json"
    proc = concdiag(
        "profile",
        "-q",
        "--rate",
        TARGETS[name],
        "--json",
        str(json_path),
        "-o",
        str(tmp_path / "report.html"),
        str(HERE / f"{name}.py"),
        str(truth_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    truth: dict[str, Any] = json.loads(truth_path.read_text())
    profile: dict[str, Any] = json.loads(json_path.read_text())
    return truth, profile


def observed_shares(thread: dict[str, Any]) -> dict[str, float]:
    """Each state's share of the thread's observed time (missed ticks left out)."""
    scale = thread["samples"] / thread["observed_samples"]
    return {k: v * scale for k, v in thread["states"].items()}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_shares_within_ten_points_of_the_threads_own_truth(name: str, tmp_path: Path) -> None:
    if overloaded():
        pytest.skip(f"machine overloaded (load {os.getloadavg()[0]:.1f}): bounds do not hold")
    truth, profile = measure(name, tmp_path)
    threads = {t["name"]: t for t in profile["processes"][0]["threads"]}
    expected: dict[str, dict[str, float | list[float]]] = truth["expected"]
    assert set(expected) <= set(threads), f"threads not seen: {set(expected) - set(threads)}"
    for thread_name, shares in expected.items():
        thread = threads[thread_name]
        states = thread["states"]
        assert sum(states.values()) == pytest.approx(1.0, abs=1e-3)
        assert states["unknown"] - thread["starved_share"] <= MAX_UNKNOWN, states
        measured = observed_shares(thread)
        for state, share in shares.items():
            low, high = share if isinstance(share, list) else (share, share)
            assert low - TOLERANCE <= measured[state] <= high + TOLERANCE, (
                f"{thread_name}.{state}: measured {measured[state]:.3f}, truth {share}; {states}"
            )
        own = truth["clocks"][thread_name]["cpu_share"]
        assert thread["cpu_clock_share"] == pytest.approx(own, abs=CLOCK_TOLERANCE)
    check = profile["summary"]["clock_check"]
    assert check is not None and check["source"] == "schedstat"
    # The profile's own check warns above 5 points (or the sampling error, if larger): none of
    # the calibration targets may make it warn (bench/clocks.py: 0.0-4.0 points).
    assert check["largest_disagreement"] <= max(check["warn_share"], check["error"]), check
