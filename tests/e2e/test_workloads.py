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
#: Per workload: the right recommendations (bench/verdicts.py's measured truth, in
#: docs/verdicts.md), the model it uses now, and the rule that must be among the reasons.
#: big_args' work is tiny once nothing is pickled (serial 0.02 s, 2 threads 0.03 s, 2
#: processes 0.86 s): serial and threads tie, and its verdict between them sits on the 1.15x
#: floor (it split 5/5 over 10 reruns, docs/verdicts.md); what must hold is "not processes,
#: the arguments are too large".
CASES: dict[str, tuple[frozenset[str], str, str | None]] = {
    "tiny_tasks": (frozenset({"serial"}), "multiprocessing", "tasks_too_small"),
    "big_args": (frozenset({"serial", "threading"}), "multiprocessing", "arguments_too_large"),
    "http_fetch": (frozenset({"threading"}), "threading", None),
    "asyncio_fetch": (frozenset({"threading"}), "asyncio", None),
    "locked_ledger": (frozenset({"serial"}), "threading", "fix_lock_first"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_workload_verdict(name: str, profile_run) -> None:  # type: ignore[no-untyped-def]
    right, current, rule = CASES[name]
    run = profile_run(str(WORKLOADS / f"{name}.py"))
    assert run.code == 0, run.stderr
    v = run.profile["verdict"]
    if v["recommendation"] not in right:
        # The confidence is the probability that a rerun agrees: a verdict on a
        # margin may flip, and must say so; a confident wrong verdict fails.
        assert v["confidence"] < 0.8, (v["recommendation"], v["confidence"], v["summary"])
    assert v["current_model"]["kind"] == current
    if rule is not None:
        assert rule in {r["rule"] for r in v["reasons"]}, v["reasons"]
    sites = v["current_model"]["sites"]
    if current != "serial":
        assert any(Path(s["file"]).name == f"{name}.py" for s in sites), sites
