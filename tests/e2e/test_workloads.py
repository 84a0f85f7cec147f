"""Verdicts on realistic workloads whose measured truth is large and stable.

bench/verdicts.py measures the truth (serial vs ThreadPoolExecutor(2) vs
ProcessPoolExecutor(2)); these cases keep their answer by a wide margin on any machine:
tiny tasks and large arguments make a process pool many times slower than serial, slow
requests gain from threads, and postings serialised on a file lock gain from nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

WORKLOADS = ROOT / "bench" / "workloads"
CASES = {
    "tiny_tasks": ("serial", "multiprocessing", "tasks_too_small"),
    "big_args": ("serial", "multiprocessing", "arguments_too_large"),
    "http_fetch": ("threading", "threading", None),
    "asyncio_fetch": ("threading", "asyncio", None),
    "locked_ledger": ("serial", "threading", "fix_lock_first"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_workload_verdict(name: str, profile_run) -> None:  # type: ignore[no-untyped-def]
    recommendation, current, rule = CASES[name]
    run = profile_run(str(WORKLOADS / f"{name}.py"))
    assert run.code == 0, run.stderr
    v = run.profile["verdict"]
    if v["recommendation"] != recommendation:
        # The confidence is the probability that a rerun agrees (issue 12): a verdict on a
        # margin may flip, and must say so. big_args' threads are predicted 0.8-1.14x against
        # the 1.15x floor (serial at 0.48 when 1.14x), and one clean-clone CI run got
        # `threading`; a confident wrong verdict still fails.
        assert v["confidence"] < 0.8, (v["recommendation"], v["confidence"], v["summary"])
    assert v["current_model"]["kind"] == current
    if rule is not None:
        assert rule in {r["rule"] for r in v["reasons"]}, v["reasons"]
    sites = v["current_model"]["sites"]
    if current != "serial":
        assert any(Path(s["file"]).name == f"{name}.py" for s in sites), sites
