"""What a thread pool's tasks would cost to ship to processes: estimated in the target, read by
the verdict.

The in-target estimator runs in a subprocess (it patches the thread pools of the interpreter
it is installed in); its figures are checked against pickling the same values whole, within a
factor, never against a clock. The verdict's use of them runs on synthetic inputs.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from concdiag.agent.pools import shipping as agent
from concdiag.analysis.verdict.decide import decide
from concdiag.analysis.verdict.inputs import Inputs, ShippingFigures
from concdiag.analysis.verdict.shipping import shipping_figures
from concdiag.recording.recording import Recording, RecordingDraft
from concdiag.recording.shipping import PoolShipping, ShippingDraft
from helpers import target_info
from test_verdict_rules import BASE as RULES_BASE

SRC = Path(__file__).resolve().parents[1] / "src"

TABLE = [(i, f"sku-{i % 500:05d}", i % 11, i / 7, f"order {i}") for i in range(50_000)]


def test_a_large_table_is_estimated_from_a_sample_within_a_factor_of_its_pickle() -> None:
    size, dump_s, load_s = agent.estimate(((TABLE,), {}))
    whole = len(pickle.dumps(((TABLE,), {})))
    assert 0.7 * whole < size < 1.5 * whole
    assert dump_s > 0 and load_s > 0


def test_small_values_are_pickled_whole() -> None:
    value = [1, 2.0, "three", (4, "five")]
    assert agent.estimate(value)[0] == len(pickle.dumps(value))
    assert agent.estimate(7)[0] == len(pickle.dumps(7))
    long_text = "x" * (3 * agent.FLAT_SAMPLE)
    assert abs(agent.estimate(long_text)[0] - len(pickle.dumps(long_text))) < 64 * 3


class Holder:
    def __init__(self) -> None:
        self.rows = TABLE


def test_an_object_is_priced_by_its_state() -> None:
    size = agent.estimate(Holder())[0]
    assert size > 0.7 * len(pickle.dumps(TABLE))


def _run_in_target(body: str) -> list[dict[str, object]]:
    """``body`` run in a fresh interpreter with the estimator installed; what it sent."""
    script = (
        textwrap.dedent(
            f"""
        import json, sys
        sys.path.insert(0, {str(SRC)!r})
        from concdiag.agent.bootstrap import agent_module
        sent = []
        shipping = agent_module("pools.shipping")
        shipping.install(sent.append)
        """
        )
        + textwrap.dedent(body)
        + textwrap.dedent(
            """
        shipping._send_counts()
        print(json.dumps(sent))
        """
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "target.py"
        path.write_text(script)
        done = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=60, check=True
        )
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_thread_pool_s_first_tasks_are_estimated_and_every_task_counted() -> None:
    sent = _run_in_target(
        """
        from concurrent.futures import ThreadPoolExecutor
        rows = [(i, f"{i:020d}") for i in range(20_000)]
        def work(table):
            return len(table)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, [rows] * 12))
        """
    )
    arguments = [m for m in sent if m.get("part") == "arguments"]
    results = [m for m in sent if m.get("part") == "result"]
    assert len(arguments) == len(results) == agent.SAMPLED_TASKS
    assert all(400_000 < float(m["bytes"]) < 1_000_000 for m in arguments)  # type: ignore[arg-type]
    assert all(str(m["code"]).startswith("list(pool.map(work") for m in arguments)
    assert sent[-1] == {"type": "task_counts", "counts": {"1": 12}}


def test_a_multiprocessing_thread_pool_is_counted_per_item() -> None:
    sent = _run_in_target(
        """
        from multiprocessing.pool import ThreadPool
        with ThreadPool(2) as pool:
            pool.map(abs, range(-20, 0))
        """
    )
    assert sum(1 for m in sent if m.get("part") == "arguments") == agent.SAMPLED_TASKS
    assert sent[-1] == {"type": "task_counts", "counts": {"1": 20}}


def test_a_task_that_cannot_be_pickled_says_why() -> None:
    sent = _run_in_target(
        """
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(2) as pool:
            pool.submit(lambda: 1).result()
        """
    )
    errors = [m["error"] for m in sent if "error" in m]
    assert errors and "lambda" in str(errors[0])


def _draft_of(messages: list[dict[str, object]]) -> tuple[PoolShipping, ...]:
    draft = ShippingDraft()
    for message in messages:
        if message["type"] == "task_counts":
            draft.count(message)
        else:
            draft.add(message)
    return draft.pools()


def test_the_pool_figures_are_medians_times_the_tasks_counted() -> None:
    args = {"type": "task_shipping", "pool": 1, "part": "arguments", "file": "/p/a.py"}
    result = {"type": "task_shipping", "pool": 1, "part": "result"}
    pools = _draft_of(
        [
            {**args, "line": 9, "bytes": 1000, "pickle_s": 0.01, "unpickle_s": 0.02},
            {**args, "line": 9, "bytes": 3000, "pickle_s": 0.03, "unpickle_s": 0.04},
            {**args, "line": 9, "bytes": 2000, "pickle_s": 0.02, "unpickle_s": 0.03},
            {**result, "bytes": 10, "pickle_s": 0.001, "unpickle_s": 0.002},
            {"type": "task_shipping", "pool": 1, "part": "arguments", "bytes": "bad"},
            {"type": "task_counts", "counts": {"1": 10}},
        ]
    )
    (pool,) = pools
    assert (pool.site, pool.tasks, pool.counted) == ("/p/a.py:9", 10, True)
    assert pool.argument == (2000.0, 0.02, 0.03)
    assert abs(pool.parent_s - 10 * (0.02 + 0.002)) < 1e-9
    assert abs(pool.workers_s - 10 * (0.03 + 0.001)) < 1e-9
    figures = shipping_figures(pools)
    assert figures.measured and figures.at == "a.py:9" and figures.sampled == 3


def test_a_run_cut_short_counts_the_tasks_it_estimated() -> None:
    (pool,) = _draft_of(
        [
            {
                "type": "task_shipping",
                "pool": 2,
                "part": "arguments",
                "bytes": 5,
                "pickle_s": 0.0,
                "unpickle_s": 0.0,
            }
        ]
    )
    assert (pool.tasks, pool.counted) == (1, False)


def test_shipping_survives_a_saved_recording(tmp_path: Path) -> None:
    draft = RecordingDraft(rate_hz=100.0, target=target_info())
    draft.shipping = (
        PoolShipping(
            pool=1,
            site="a.py:3",
            tasks=4,
            counted=True,
            arguments=((10.0, 0.1, 0.2),),
            errors=("E: x",),
        ),
    )
    path = tmp_path / "r.json"
    draft.freeze().save(path)
    assert Recording.load(path).shipping == draft.shipping


BASE = dataclasses.replace(RULES_BASE, python_cpu_s=2.0, gil_wait_s=1.0, worker_threads=2)


def _shipped(parent_s: float, workers_s: float, error: str = "") -> Inputs:
    figures = ShippingFigures(
        measured=True,
        parent_s=parent_s,
        workers_s=workers_s,
        tasks=14,
        sampled=8,
        argument_bytes=9e6,
        argument_pickle_s=0.05,
        argument_unpickle_s=0.05,
        at="a.py:3",
        error=error,
    )
    return dataclasses.replace(BASE, shipping=figures)


def test_python_work_on_threads_whose_tasks_pickle_dearly_stays_serial() -> None:
    v = decide(_shipped(parent_s=1.5, workers_s=1.5), "threading", "2 threads", [])
    assert v.recommendation == "serial"
    rules = [r.rule for r in v.reasons]
    assert "task_shipping" in rules and "no_gain" in rules
    assert "arguments_unmeasured" not in rules
    named = next(r for r in v.reasons if r.rule == "task_shipping")
    assert "a.py:3" in named.message and "Pass large data once" in named.message


def test_cheap_tasks_measured_lift_the_unmeasured_cap() -> None:
    unmeasured = decide(BASE, "threading", "2 threads", [])
    measured = decide(_shipped(parent_s=0.001, workers_s=0.001), "threading", "2 threads", [])
    assert unmeasured.recommendation == measured.recommendation == "multiprocessing"
    assert unmeasured.confidence <= 0.85 < measured.confidence
    assert "task_shipping" in [r.rule for r in measured.reasons]  # named: processes chosen


def test_a_task_that_could_not_be_pickled_is_named_when_processes_are_advised() -> None:
    v = decide(_shipped(0.001, 0.001, error="PicklingError: lambda"), "threading", "", [])
    assert v.recommendation == "multiprocessing"
    assert "tasks_unpicklable" in [r.rule for r in v.reasons]


def test_a_serial_run_keeps_the_unmeasured_cap() -> None:
    v = decide(_shipped(0.001, 0.001), "serial", "", [])
    assert "arguments_unmeasured" in [r.rule for r in v.reasons]


class Rows(list):  # type: ignore[type-arg]
    """A list subclass: not broken up into a sample, so pickled whole."""


def test_a_value_pickled_whole_is_stopped_at_the_cap() -> None:
    huge = Rows(range(3_000_000))  # ~15 MB pickled
    size, dump_s, load_s = agent.estimate(((huge,), {}))
    assert size >= agent.MAX_PICKLE_BYTES  # a lower bound
    assert dump_s > 0 and load_s > 0
    small = Rows(range(10))
    assert agent.estimate(small)[0] == len(pickle.dumps(small))


def test_the_pools_are_patched_when_the_program_imports_them_and_not_before() -> None:
    sent = _run_in_target(
        """
        assert "concurrent.futures.thread" not in sys.modules
        assert "multiprocessing.pool" not in sys.modules
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(abs, range(-3, 0)))
        """
    )
    assert sent[-1] == {"type": "task_counts", "counts": {"1": 3}}
