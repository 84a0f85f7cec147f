"""The verdict's rules one at a time, on synthetic inputs at and around their thresholds."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from concdiag.analysis.verdict import rules, thresholds
from concdiag.analysis.verdict.consistency import (
    busy_python_workers_not_io,
    gain_behind_recommendation,
)
from concdiag.analysis.verdict.decide import decide
from concdiag.analysis.verdict.inputs import Inputs, Shares
from concdiag.analysis.verdict.no_gil import limits_without_gil
from concdiag.analysis.verdict.speedup import START_COSTS, predict
from concdiag.model import Profile, SpeedupPoint, Verdict
from concdiag.recording.records import StackChange
from helpers import PID, as_child_process, profile_of, synthetic

BASE = Inputs(
    python_cpu_s=0.0,
    gil_wait_s=0.0,
    native_cpu_s=0.0,
    io_s=0.0,
    lock_s=0.0,
    unknown_s=0.0,
    sleep_s=0.0,
    wall_s=2.0,
    cores=2,
    worker_threads=4,
    samples=1000,
    gil_measured=True,
    gil_enabled=True,
    stacks_available=True,
)


def inputs(**seconds: float) -> Inputs:
    return dataclasses.replace(BASE, **seconds)  # type: ignore[arg-type]


def test_lock_bound_from_its_share_and_only_between_workers() -> None:
    share = thresholds.SYNC_BOUND_SHARE
    at = inputs(lock_s=share, io_s=1 - share)
    reason = rules.lock_bound(at, Shares.of(at))
    assert reason is not None and reason.figures["sync_share"] == share
    below = inputs(lock_s=share - 0.01, io_s=1 - share + 0.01)
    assert rules.lock_bound(below, Shares.of(below)) is None
    alone = dataclasses.replace(at, worker_threads=1)
    assert rules.lock_bound(alone, Shares.of(alone)) is None
    assert rules.bound_of(at, Shares.of(at))[0] == "sync"


def test_idle_when_little_work_or_mostly_sleeping() -> None:
    tiny = inputs(python_cpu_s=thresholds.MIN_WORK_S / 2)
    assert rules.idle(tiny, Shares.of(tiny)) is not None
    sleeping = inputs(python_cpu_s=0.1, io_s=2.0, sleep_s=1.8, wall_s=2.0)
    reason = rules.idle(sleeping, Shares.of(sleeping))
    assert reason is not None and reason.figures["sleep_share_of_io"] == 0.9
    awake = inputs(python_cpu_s=0.1, io_s=2.0, sleep_s=1.0, wall_s=2.0)
    assert rules.idle(awake, Shares.of(awake)) is None
    assert rules.bound_of(awake, Shares.of(awake)) == ("io", None)


def test_cpu_and_io_bounds_from_their_shares() -> None:
    cpu = inputs(python_cpu_s=thresholds.CPU_BOUND_SHARE, io_s=1 - thresholds.CPU_BOUND_SHARE)
    assert rules.bound_of(cpu, Shares.of(cpu)) == ("cpu", None)
    io = inputs(io_s=thresholds.IO_BOUND_SHARE, python_cpu_s=1 - thresholds.IO_BOUND_SHARE)
    assert rules.bound_of(io, Shares.of(io)) == ("io", None)
    mixed = inputs(python_cpu_s=0.5, io_s=0.5)
    assert rules.bound_of(mixed, Shares.of(mixed)) == ("mixed", None)


def test_cpu_kind_is_the_majority_of_the_cpu() -> None:
    python = inputs(python_cpu_s=1.0, native_cpu_s=1.0)
    assert rules.cpu_kind_of("cpu", Shares.of(python)) == "python"
    reason = rules.cpu_bound(python, Shares.of(python), "cpu", "python")
    assert reason is not None and reason.rule == "cpu_bound_python"
    native = inputs(python_cpu_s=0.9, native_cpu_s=1.1)
    assert rules.cpu_kind_of("cpu", Shares.of(native)) == "native"
    assert rules.cpu_kind_of("io", Shares.of(native)) is None
    assert rules.cpu_bound(native, Shares.of(native), "mixed", "native") is None


def test_gil_contention_is_a_reason_above_its_share() -> None:
    share = thresholds.GIL_CONTENTION_SHARE
    assert rules.gil_contention(inputs(gil_wait_s=share * 2, python_cpu_s=1 - share * 2))
    assert rules.gil_contention(inputs(gil_wait_s=share / 2, python_cpu_s=1 - share / 2)) is None


def test_pool_overhead_names_arguments_or_tasks() -> None:
    pickling = inputs(python_cpu_s=3.0, serialise_held_s=1.0, dispatch_held_s=0.1)
    work = rules.useful_work(pickling, "multiprocessing")
    assert work.python_cpu_s == pytest.approx(1.9)
    assert work.ipc_s == pytest.approx(1.1)
    reason = rules.pool_overhead(pickling, work)
    assert reason is not None and reason.rule == "arguments_too_large"
    dispatching = inputs(python_cpu_s=2.0, serialise_held_s=0.5, dispatch_held_s=0.5)
    reason = rules.pool_overhead(dispatching, rules.useful_work(dispatching, "multiprocessing"))
    assert reason is not None and reason.rule == "tasks_too_small"
    # without a process pool now nothing is taken out of the work: 1.1 s against 3 s is no reason
    assert rules.useful_work(pickling, "threading").ipc_s == 0.0
    assert rules.pool_overhead(pickling, rules.useful_work(pickling, "threading")) is None


def test_pool_overhead_in_the_workers_divides_among_them() -> None:
    # 4 s of work; 1 s of pool overhead, paid per task either in the workers or in the parent
    in_workers = inputs(python_cpu_s=5.0, serialise_held_s=1.0, overhead_in_workers_s=1.0)
    in_parent = inputs(python_cpu_s=5.0, serialise_held_s=1.0)
    work_w = rules.useful_work(in_workers, "multiprocessing")
    work_p = rules.useful_work(in_parent, "multiprocessing")
    assert (work_w.ipc_s, work_w.ipc_workers_s) == (0.0, 1.0)
    assert (work_p.ipc_s, work_p.ipc_workers_s) == (1.0, 0.0)
    two_w, two_p = predict(work_w)[1].processes, predict(work_p)[1].processes
    # workers: (4 + 1)/2 + 2 starts; parent: it feeds while they work, but shares the cores
    starts = 2 * START_COSTS["fork"].per_process_s
    assert two_w == pytest.approx(4.0 / (2.5 + starts))
    assert two_p == pytest.approx(4.0 / (2.5 + starts))
    # a parent that spends longer feeding than the workers work bounds the run
    feeding = inputs(python_cpu_s=5.0, dispatch_held_s=3.0)
    assert predict(rules.useful_work(feeding, "multiprocessing"))[1].processes == pytest.approx(
        2.0 / (3.0 + starts)
    )


def test_recommendation_rules_in_order() -> None:
    locked = inputs(lock_s=1.0)
    work = rules.useful_work(locked, "threading")
    rec, reason = rules.recommend(locked, "sync", work, predict(work))
    assert (rec, reason and reason.rule) == ("serial", "fix_lock_first")
    short = inputs(python_cpu_s=thresholds.MIN_WORK_S / 2)
    work = rules.useful_work(short, "serial")
    rec, reason = rules.recommend(short, "cpu", work, predict(work))
    assert (rec, reason and reason.rule) == ("serial", "too_short")
    held = inputs(python_cpu_s=2.0)
    work = dataclasses.replace(rules.useful_work(held, "serial"), cores=1)
    rec, reason = rules.recommend(held, "cpu", work, predict(work))
    assert (rec, reason and reason.rule) == ("serial", "no_gain")
    work = rules.useful_work(held, "serial")
    assert rules.recommend(held, "cpu", work, predict(work)) == ("multiprocessing", None)
    native = inputs(native_cpu_s=2.0)
    work = rules.useful_work(native, "serial")
    assert rules.recommend(native, "cpu", work, predict(work)) == ("threading", None)


def test_threads_only_when_they_gain_or_processes_do_not_win_by_the_margin() -> None:
    from concdiag.model import SpeedupPoint

    def at_two(threads: float, processes: float) -> list[SpeedupPoint]:
        return [SpeedupPoint(1, 1.0, 1.0), SpeedupPoint(2, threads, processes)]

    assert rules.threads_or_processes(2, at_two(1.3, 1.7)) == "multiprocessing"  # by the margin
    assert rules.threads_or_processes(2, at_two(1.5, 1.8)) == "threading"  # within it
    # two pure-Python threads gain nothing, processes 1.2x: below the margin, yet the only way
    # to gain (by the margin alone, reruns on either side of it would disagree)
    assert rules.threads_or_processes(2, at_two(1.0, 1.2)) == "multiprocessing"
    # neither gains at the pool size: threads (more threads may overlap waits)
    assert rules.threads_or_processes(2, at_two(1.0, 1.1)) == "threading"


def test_asyncio_and_free_threaded_notes() -> None:
    many = dataclasses.replace(inputs(io_s=5.0), worker_threads=thresholds.MANY_THREADS_FOR_ASYNCIO)
    assert rules.consider_asyncio(many, "io", "threading") is not None
    assert rules.consider_asyncio(many, "io", "serial") is None
    few = dataclasses.replace(many, worker_threads=thresholds.MANY_THREADS_FOR_ASYNCIO - 1)
    assert rules.consider_asyncio(few, "io", "threading") is None
    no_gil = dataclasses.replace(BASE, gil_enabled=False)
    assert limits_without_gil(no_gil, "mixed", None) is not None
    assert limits_without_gil(no_gil, "io", None) is None
    assert limits_without_gil(BASE, "cpu", None) is None


def test_decide_keeps_the_rules_order() -> None:
    v = decide(inputs(python_cpu_s=1.5, gil_wait_s=0.5), "threading", "4 threads", [])
    assert [r.rule for r in v.reasons] == [
        "time_split",
        "cpu_bound_python",
        "gil_contention",
        "predicted_speedup",
        "arguments_unmeasured",
    ]
    assert v.recommendation == "multiprocessing"


def test_every_threshold_says_where_its_number_came_from() -> None:
    path = Path(thresholds.__file__)
    lines = path.read_text().splitlines()
    names = [
        node.targets[0].id
        for node in ast.parse("\n".join(lines)).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    ]
    assert len(names) >= 20
    for index, line in enumerate(lines):
        if line.split(" = ", 1)[0] not in names:
            continue
        above: list[str] = []
        for previous in reversed(lines[:index]):
            if not previous.startswith("#:"):
                break
            above.append(previous)
        comment = " ".join(above)
        assert any(word in comment for word in ("docs/", "choice", "definition")), line


def test_threads_for_python_bound_work_say_what_they_overlap() -> None:
    # 55% Python under the GIL, 45% native: threads win only through the native part, and
    # the summary must say so rather than "CPU-bound in Python code...: use threads"
    v = decide(inputs(python_cpu_s=2.2, native_cpu_s=1.8, worker_threads=2), "serial", "", [])
    assert (v.bound, v.cpu_kind, v.recommendation) == ("cpu", "python", "threading")
    assert "use threads, for the 45% of its CPU that runs with the GIL released" in v.summary


def _verdict(**changes: object) -> Verdict:
    base = profile_of(synthetic({PID: ["H"], PID + 1: ["H"]}, ticks=300)).verdict
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_model_predicted_under_the_floor_is_not_recommended() -> None:
    points = [SpeedupPoint(n, 1.0, 1.1) for n in range(1, 9)]
    verdict = _verdict(recommendation="threading", predicted_speedup=points, reasons=[])
    assert "under the 1.15x floor" in (gain_behind_recommendation(verdict, 2) or "")
    fine = _verdict(
        recommendation="threading",
        predicted_speedup=[SpeedupPoint(n, 1.8, 1.1) for n in range(1, 9)],
    )
    assert gain_behind_recommendation(fine, 2) is None
    assert gain_behind_recommendation(_verdict(recommendation="serial"), 2) is None


def test_threads_never_win_at_no_gain_where_a_bigger_pool_would() -> None:
    """Processes gain only past this machine's cores, threads not at all: serial, with the
    figures that say why (at 2 workers neither reaches the floor)."""
    points = [SpeedupPoint(1, 1.0, 1.0), SpeedupPoint(2, 1.0, 1.1)]
    points += [SpeedupPoint(n, 1.0, 1.2) for n in range(3, 9)]
    assert rules.threads_or_processes(2, points) == "threading"
    reason = rules.no_gain_at_pool(2, points, "threading")
    assert reason is not None and reason.figures["threads"] == 1.0


def test_busy_python_workers_are_not_called_io_bound() -> None:
    profile = profile_of(synthetic({PID: ["H"], PID + 1: ["H"]}, ticks=300))
    root = profile.processes[0]
    busy_gil = dataclasses.replace(root.gil, utilisation=0.95)
    worker = dataclasses.replace(root, pid=PID + 5, is_root=False, gil=busy_gil)
    summary = dataclasses.replace(profile.summary, cores_used_mean=1.6)
    io_threads = _verdict(bound="io", recommendation="threading")
    found = busy_python_workers_not_io(io_threads, [root, worker], summary)
    assert found is not None and "1.60 cores" in found
    idle_tree = dataclasses.replace(summary, cores_used_mean=0.9)
    assert busy_python_workers_not_io(io_threads, [root, worker], idle_tree) is None
    assert busy_python_workers_not_io(_verdict(bound="cpu"), [root, worker], summary) is None


def _workers_that_mostly_start(import_share: float) -> Profile:
    """The root waits for two worker processes, each of which spends ``import_share`` of its
    CPU importing and the rest computing (300 ticks, 3 s each)."""
    work = (("<module>", "/app/worker.py", 1), ("compute", "/app/worker.py", 9))
    importing = (
        ("<module>", "/app/worker.py", 1),
        ("_find_and_load", "<frozen importlib._bootstrap>", 1176),
    )
    rec = synthetic({PID: ["I"], PID + 1: ["H"], PID + 2: ["H"]}, ticks=300)
    for tid in (PID + 1, PID + 2):
        rec.stacks[(PID, tid)] = [
            StackChange(0.0, importing),
            StackChange(3.0 * import_share, work),
        ]
        as_child_process(rec, tid)
    return profile_of(rec)


def test_workers_that_spend_more_starting_than_working_are_named() -> None:
    """Each worker spends 2.4 s importing and 0.6 s working: starting them costs more than
    the work they share, and the process model is charged the measured start-up."""
    verdict = _workers_that_mostly_start(0.8).verdict
    reason = next(r for r in verdict.reasons if r.rule == "worker_start_up")
    assert reason.figures["start_per_worker_s"] == pytest.approx(2.4, abs=0.05)
    assert reason.figures["work_per_worker_s"] == pytest.approx(0.6, abs=0.05)
    assert verdict.recommendation == "serial"
    assert sum(r.rule == "worker_start_up" for r in verdict.reasons) == 1
    speedup = next(r for r in verdict.reasons if r.rule == "predicted_speedup")
    assert "as this run's 2 worker process(es) took to start" in speedup.message


def test_workers_that_mostly_work_keep_processes() -> None:
    verdict = _workers_that_mostly_start(0.02).verdict
    assert not any(r.rule == "worker_start_up" for r in verdict.reasons)
    assert verdict.recommendation == "multiprocessing"


def test_a_serial_run_on_little_work_cannot_be_sure_its_work_divides() -> None:
    little = decide(inputs(python_cpu_s=0.5, wall_s=0.55, worker_threads=1), "serial", "", [])
    assert little.recommendation == "multiprocessing"
    assert any(r.rule == "small_serial_run" for r in little.reasons)
    assert little.confidence <= thresholds.SMALL_SERIAL_RUN_CONFIDENCE
    more = decide(inputs(python_cpu_s=3.0, wall_s=3.05, worker_threads=1), "serial", "", [])
    assert more.recommendation == "multiprocessing"
    assert not any(r.rule == "small_serial_run" for r in more.reasons)


def test_a_workers_start_up_leaves_the_cpu_in_the_state_it_ran_in() -> None:
    """Start-up with the GIL released (reading and unmarshalling modules) is not native work
    that threads would run in parallel: it leaves the native figure, not the GIL-held one."""
    started = inputs(
        python_cpu_s=2.0, native_cpu_s=0.5, worker_start_s=0.6, worker_start_native_s=0.4
    )
    work = rules.useful_work(started, "multiprocessing")
    assert work.python_cpu_s == pytest.approx(1.8)
    assert work.native_cpu_s == pytest.approx(0.1)


def test_processes_when_threads_would_save_too_little_and_processes_enough() -> None:
    """compileall -j 2's shape: threads the cheaper choice (processes predicted under 1.25x
    better), but saving under `MIN_SAVING_S`; processes save more than it: they are the model
    that gains, not serial."""
    # P 0.25 s, C 0.08 s, S 0.04 s: threads 0.37/0.29 = 1.28x (saves 0.08 s); processes
    # 0.37/(0.04 + 0.165 + 2 x 15 ms) = 1.57x (saves 0.13 s)
    small = inputs(python_cpu_s=0.29, native_cpu_s=0.08, serial_held_s=0.04)
    work = rules.useful_work(small, "multiprocessing")
    recommendation, why = rules.recommend(small, "cpu", work, predict(work))
    assert recommendation == "multiprocessing"
    assert why is not None and why.rule == "only_processes_pay"
    assert why.figures["threads_short"] == "small_saving"
    assert why.figures["threads_saving_s"] == pytest.approx(0.08, abs=0.005)
    assert why.figures["processes_saving_s"] == pytest.approx(0.135, abs=0.005)
    # where processes would save too little as well, serial
    tiny = inputs(python_cpu_s=0.15, native_cpu_s=0.04, serial_held_s=0.02)
    work = rules.useful_work(tiny, "multiprocessing")
    assert rules.recommend(tiny, "cpu", work, predict(work))[0] == "serial"


def test_worker_processes_one_after_another_cap_a_model_recommended_for_them() -> None:
    """pip's build steps: four interpreters, each started as the one before ended. The run
    cannot show that the work divides among several workers."""
    from concdiag.analysis.verdict.decide import most_at_once, workers_one_at_a_time

    tick = 0.01
    chain = [(0.37, 2.21), (2.22, 2.43), (2.44, 2.67), (2.69, 3.12)]
    assert most_at_once(chain, tick) == 1
    # ending and starting within a tick is still one after another
    assert most_at_once([(0.0, 1.0), (0.995, 2.0)], tick) == 1
    assert most_at_once([(0.0, 2.0), (0.5, 2.5)], tick) == 2
    in_turn = inputs(worker_processes=4, workers_at_once=1)
    reason = workers_one_at_a_time(in_turn, "multiprocessing", "multiprocessing")
    assert reason is not None and reason.figures["confidence_cap"] == 0.6
    assert workers_one_at_a_time(in_turn, "multiprocessing", "serial") is None
    side_by_side = inputs(worker_processes=4, workers_at_once=2)
    assert workers_one_at_a_time(side_by_side, "multiprocessing", "multiprocessing") is None
    # a pool of one worker is one process: nothing ran in turn
    one = inputs(worker_processes=1, workers_at_once=1)
    assert workers_one_at_a_time(one, "multiprocessing", "multiprocessing") is None
    v = decide(
        dataclasses.replace(in_turn, python_cpu_s=3.0, wall_s=3.2),
        "multiprocessing",
        "4 child processes",
        [],
    )
    assert v.recommendation == "multiprocessing"
    assert "workers_one_at_a_time" in {r.rule for r in v.reasons}
    assert v.confidence <= 0.6
