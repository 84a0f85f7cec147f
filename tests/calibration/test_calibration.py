"""Calibration: profile targets whose per-thread truth is known, check every share.

Each target writes its truth (by construction, or measured inside the target) to a JSON file
named on its command line; concdiag's measured share of each state named there, over the
thread's observed time (alive time less ``unknown``, the ticks the sampler missed), must be
within 10 percentage points of it. ``unknown`` itself must stay small. The results are
summarised in docs/measurement.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from e2e.conftest import concdiag

pytestmark = pytest.mark.e2e

HERE = Path(__file__).parent
TOLERANCE = 0.10
MAX_UNKNOWN = 0.25
TARGETS = ["gil_threads", "hash_beside_python", "socket_wait", "lock_serial"]
#: Sampling error shrinks with samples per thread: at 100 Hz a 1.2 s thread gets ~120 ticks and
#: the GIL-held share of 3 threads swapping the GIL every 5 ms was off by up to 15 points on a
#: quiet machine; at 250 Hz (~300 ticks) by at most 4.5 (docs/measurement.md, "Sampling error").
RATE_HZ = "250"
#: Above this load per core, runnable threads wait for a CPU for many ticks and the
#: sampler itself is starved: the accuracy bounds do not hold (docs/measurement.md).
MAX_LOAD_PER_CORE = 3.0


def overloaded() -> bool:
    return os.getloadavg()[0] > MAX_LOAD_PER_CORE * (os.cpu_count() or 1)


def measure(name: str, tmp_path: Path) -> tuple[dict[str, dict[str, float]], dict[str, object]]:
    truth_path = tmp_path / "truth.json"
    json_path = tmp_path / "profile.json"
    proc = concdiag(
        "profile",
        "-q",
        "--rate",
        RATE_HZ,
        "--json",
        str(json_path),
        "-o",
        str(tmp_path / "report.html"),
        str(HERE / f"{name}.py"),
        str(truth_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    truth: dict[str, dict[str, float]] = json.loads(truth_path.read_text())
    profile: dict[str, object] = json.loads(json_path.read_text())
    return truth, profile


@pytest.mark.parametrize("name", TARGETS)
def test_shares_within_ten_points(name: str, tmp_path: Path) -> None:
    if overloaded():
        pytest.skip(f"machine overloaded (load {os.getloadavg()[0]:.1f}): bounds do not hold")
    truth, profile = measure(name, tmp_path)
    processes = profile["processes"]
    assert isinstance(processes, list)
    threads = {t["name"]: t for t in processes[0]["threads"]}
    assert set(truth) <= set(threads), f"threads not seen: {set(truth) - set(threads)}"
    for thread_name, expected in truth.items():
        states = threads[thread_name]["states"]
        assert sum(states.values()) == pytest.approx(1.0, abs=1e-3)
        assert states["unknown"] <= MAX_UNKNOWN, states
        observed = 1.0 - states["unknown"]
        for state, share in expected.items():
            measured = states[state] / observed
            assert measured == pytest.approx(share, abs=TOLERANCE), (
                f"{thread_name}.{state}: measured {measured:.3f}, truth {share:.3f}; {states}"
            )
