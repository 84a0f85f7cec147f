"""The verdict: small named rules from measured figures to bound, recommendation, confidence.

Every rule (in `verdict_rules`) returns a `Reason` carrying the figures it used, so a reader
(and a test) can see why. The rules work on *worker time*: the time Python threads spent,
less their waits for other workers (joins, futures, pool results), which measure
coordination, not the work. This module runs them in order and matches the recommendation
with the model the program uses now.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter

from concdiag.analysis.accounting.result import Accounting
from concdiag.analysis.locks.rules import (
    contended_lock,
    deadlock,
    deadlock_summary,
    one_lock_held_longest,
    top_lock,
)
from concdiag.analysis.verdict import sleep_sites
from concdiag.analysis.verdict.confidence import confidence, rerun_majority, rerun_outcomes
from concdiag.analysis.verdict.inputs import Inputs, Shares
from concdiag.analysis.verdict.no_gil import limits_without_gil
from concdiag.analysis.verdict.rules import (
    bound_of,
    consider_asyncio,
    cpu_bound,
    cpu_kind_of,
    event_loop_blocked,
    external_commands,
    gil_contention,
    lock_would_serialise,
    pool_overhead,
    predicted_speedup,
    recommend,
    sleep_in_calls,
    time_split,
    useful_work,
    worker_start_up,
)
from concdiag.analysis.verdict.shipping import (
    shipping_measured,
    task_shipping,
    tasks_unpicklable,
)
from concdiag.analysis.verdict.speedup import MODEL_TEXT, Work, predict
from concdiag.analysis.verdict.thresholds import (
    DEADLOCK_CONFIDENCE,
    INFERRED_MODEL_CONFIDENCE,
    LIKELY_DEADLOCK_CONFIDENCE,
    ONE_AT_A_TIME_CONFIDENCE,
    SMALL_SERIAL_RUN_CONFIDENCE,
    SMALL_SERIAL_WORK_S,
    UNMEASURED_SHIPPING_CONFIDENCE,
)
from concdiag.formatting import pct
from concdiag.model import CodeSite, CurrentModel, Reason, SpeedupPoint, Verdict, model_noun
from concdiag.model.locks import LockProfile, LockReport
from concdiag.model.speedup import ProcessStart

#: The rules that recommend workers each with its own copy of what a lock guards: their
#: prediction is the work without the lock's waits.
OWN_RESOURCE_RULES = ("own_resource_per_process", "own_resource_per_thread")
#: How many creation sites the advice names (the report lists them all): a stated choice, to
#: keep the advice one sentence.
SITES_IN_ADVICE = 4


def inputs_from(acc: Accounting, cores: int, gil_enabled: bool, stacks: bool) -> Inputs:
    w = acc.summary.worker_seconds
    root = next((p for p in acc.processes if p.is_root), None)
    in_calls_s, site = sleep_sites.in_calls_s(acc.sleep_sites_s, acc.sleep_wakes)
    in_calls_s = min(in_calls_s, acc.sleep_s)
    return Inputs(
        python_cpu_s=w.get("gil_held"),
        gil_wait_s=w.get("gil_wait"),
        native_cpu_s=w.native,
        io_s=w.io,
        lock_s=w.sync,
        unknown_s=w.unknown,
        sleep_s=acc.sleep_s - in_calls_s,
        sleep_in_calls_s=in_calls_s,
        sleep_in_calls_at=f"{site[0]}, {os.path.basename(site[1])}:{site[2]}" if site else "",
        wall_s=acc.wall_s,
        cores=max(1, cores),
        worker_threads=acc.worker_threads,
        samples=acc.samples,
        gil_measured=bool(root and root.gil.measured),
        gil_enabled=gil_enabled,
        stacks_available=stacks,
        serialise_held_s=acc.pool_overhead_s.get("serialise", {}).get("gil_held", 0.0),
        serialise_native_s=acc.pool_overhead_s.get("serialise", {}).get("native", 0.0),
        dispatch_held_s=acc.pool_overhead_s.get("dispatch", {}).get("gil_held", 0.0),
        dispatch_native_s=acc.pool_overhead_s.get("dispatch", {}).get("native", 0.0),
        overhead_in_workers_s=acc.pool_overhead_in_workers_s,
        serial_held_s=acc.serial_cpu_s.get("gil_held", 0.0),
        serial_native_s=acc.serial_cpu_s.get("native", 0.0),
        serial_io_s=acc.serial_io_s,
        variance_s2=acc.worker_variance_s2,
        cores_used_mean=acc.summary.cores_used_mean,
        tick_s=acc.tick_s,
        worker_processes=len(acc.worker_start_s),
        started_processes=sum(1 for s in acc.worker_start_s.values() if s > 0),
        workers_at_once=most_at_once(
            [(p.first_seen_s, p.last_seen_s) for p in acc.processes if p.pid in acc.worker_start_s],
            acc.tick_s,
        ),
        worker_start_s=sum(acc.worker_start_s.values()),
        worker_start_native_s=acc.worker_start_native_s,
        worker_work_s=sum(acc.worker_work_s.values()),
        external_processes=len(acc.external_cpu_s),
        external_cpu_s=sum(acc.external_cpu_s.values()),
        mutual_wait_s=acc.mutual_wait_s,
        pool_in_workers=acc.pool_in_workers,
    )


def most_at_once(lives: list[tuple[float, float]], tick_s: float) -> int:
    """The most of these (first seen, last seen) lives that overlapped; lives that meet
    within a tick (one process ending as the next starts) do not."""
    events = sorted([(start, 1) for start, _ in lives] + [(end - tick_s, -1) for _, end in lives])
    alive = most = 0
    for _t, step in events:  # at one instant, an end (-1) sorts before a start
        alive += step
        most = max(most, alive)
    return most


def workers_one_at_a_time(inputs: Inputs, current_kind: str, recommendation: str) -> Reason | None:
    """`workers_one_at_a_time`: the program runs worker processes, but never two at once,
    and a model is recommended on the assumption that its work divides among several."""
    if current_kind != "multiprocessing" or recommendation == "serial":
        return None
    if inputs.worker_processes < 2 or inputs.workers_at_once != 1:
        return None
    return Reason(
        "workers_one_at_a_time",
        f"Its {inputs.worker_processes} worker processes ran one after another, never two at "
        "once: a chain of steps, each needing the one before, or a pool of one. The "
        "prediction assumes the work divides among several workers, which this run cannot "
        f"show, so confidence is capped at {ONE_AT_A_TIME_CONFIDENCE}.",
        {
            "worker_processes": inputs.worker_processes,
            "workers_at_once": inputs.workers_at_once,
            "confidence_cap": ONE_AT_A_TIME_CONFIDENCE,
        },
    )


def recommendation_of(inputs: Inputs, current_kind: str, locks: LockReport | None = None) -> str:
    """The recommendation alone, by the same rules `decide` runs (for the confidence)."""
    bound, _ = bound_of(inputs, Shares.of(inputs))
    work = useful_work(inputs, current_kind, hold_of(shared_lock(locks, current_kind)))
    return recommend(inputs, bound, work, predict(work), top_lock(locks))[0]


def shared_lock(locks: LockReport | None, current_kind: str) -> LockProfile | None:
    """In a serial run, the one lock held longest: threads would share it. (Where threads
    run now, a lock they share shows as their waits on it instead.)"""
    return one_lock_held_longest(locks) if current_kind == "serial" else None


def hold_of(lock: LockProfile | None) -> float:
    """A lock's measured hold seconds; 0 without a lock or a measurement."""
    return (lock.hold_s or 0.0) if lock is not None else 0.0


def decide(
    inputs: Inputs,
    current_kind: str,
    current_evidence: str,
    sites: list[CodeSite],
    locks: LockReport | None = None,
    start: ProcessStart | None = None,
) -> Verdict:
    """``start``: the process start-up charged (its method is ``inputs.start_method``)."""
    shares = Shares.of(inputs)
    if locks is not None and locks.deadlock is not None:
        return dataclasses.replace(
            _deadlock_verdict(inputs, shares, current_kind, current_evidence, sites, locks),
            process_start=start,
        )
    bound, bound_reason = bound_of(inputs, shares)
    # without a GIL, Python and native code both run unlocked: there is no split to name
    cpu_kind = cpu_kind_of(bound, shares) if inputs.gil_enabled else None
    held_lock = shared_lock(locks, current_kind)
    hold_s = hold_of(held_lock)
    work = useful_work(inputs, current_kind, hold_s)
    points = predict(work)
    recommendation, serial_reason = recommend(inputs, bound, work, points, top_lock(locks))
    if serial_reason is not None and serial_reason.rule in OWN_RESOURCE_RULES:
        # the recommendation rests on the work without the lock's waits: show that curve
        points = predict(dataclasses.replace(work, lock_s=0.0))
    outcomes = rerun_outcomes(inputs, lambda i: recommendation_of(i, current_kind, locks))
    majority = rerun_majority(outcomes, recommendation)
    majority_reason = None
    if majority != recommendation:
        majority_reason = _rerun_majority_reason(recommendation, majority, outcomes)
        recommendation, serial_reason = majority, None
    found = (
        majority_reason,
        time_split(inputs, shares),
        bound_reason,
        contended_lock(locks, bound),
        cpu_bound(inputs, shares, bound, cpu_kind),
        external_commands(inputs),
        sleep_in_calls(inputs, bound),
        gil_contention(inputs),
        pool_overhead(inputs, work),
        lock_would_serialise(held_lock, work),
        worker_start_up(inputs) if serial_reason is None else None,
        task_shipping(inputs, current_kind, recommendation, work.divisible_s),
        tasks_unpicklable(inputs, current_kind, recommendation),
        predicted_speedup(inputs, points, start),
        serial_reason,
        limits_without_gil(inputs, bound, locks),
        consider_asyncio(inputs, bound, recommendation),
        event_loop_blocked(inputs),
    )
    inferred = model_inferred(current_kind, sites, inputs.pool_in_workers)
    in_turn = workers_one_at_a_time(inputs, current_kind, recommendation)
    small = small_serial_run(current_kind, recommendation, work)
    shipping = None
    if not shipping_measured(inputs, current_kind):
        shipping = arguments_unmeasured(current_kind, recommendation)
    reasons = [
        reason for reason in (*found, inferred, in_turn, small, shipping) if reason is not None
    ]
    # both rest on a reading of the program the figures cannot prove (a sleep standing for
    # latency; a lock guarding what each worker could own)
    assumed = ("sleep_in_calls", *OWN_RESOURCE_RULES)
    capped = any(r.rule in assumed for r in reasons) and recommendation != "serial"
    current = _current_model(current_kind, current_evidence, sites, recommendation, bound)
    summary = _summary(bound, cpu_kind, recommendation, shares, current, inputs.gil_enabled)
    named = next((r for r in reasons if r.rule == "contended_lock"), None)
    if named is not None:
        summary += " " + named.message
    loop_held = next((r for r in reasons if r.rule == "event_loop_blocked"), None)
    if loop_held is not None:
        summary += " " + loop_held.message
    serialising = next((r for r in reasons if r.rule == "lock_would_serialise"), None)
    if serialising is not None:
        summary += (
            f" Threads would take turns on the lock {serialising.figures['lock']}: it was "
            f"held over {pct(work.shared_lock_hold_s / max(work.total_s, 1e-9))} of the work."
        )
    if in_turn is not None:
        summary += (
            f" Its {inputs.worker_processes} worker processes ran one after another, never "
            "two at once: whether its work divides among several, this run cannot show."
        )
    return Verdict(
        bound=bound,
        cpu_kind=cpu_kind,
        recommendation=recommendation,
        confidence=round(
            min(
                confidence(
                    inputs,
                    recommendation,
                    lambda i: recommendation_of(i, current_kind, locks),
                    outcomes,
                ),
                INFERRED_MODEL_CONFIDENCE if inferred is not None or capped else 1.0,
                ONE_AT_A_TIME_CONFIDENCE if in_turn is not None else 1.0,
                SMALL_SERIAL_RUN_CONFIDENCE if small is not None else 1.0,
                UNMEASURED_SHIPPING_CONFIDENCE if shipping is not None else 1.0,
            ),
            2,
        ),
        summary=summary,
        reasons=reasons,
        current_model=current,
        speedup_model=MODEL_TEXT,
        predicted_speedup=[
            SpeedupPoint(p.workers, round(p.threads, 3), round(p.processes, 3)) for p in points
        ],
        process_start=start,
    )


def model_inferred(
    current_kind: str, sites: list[CodeSite], pool_in_workers: bool = False
) -> Reason | None:
    """`model_inferred`: worker processes ran, but no line of the program's source starts a
    process or a process pool concdiag recognises, nor did the workers run their tasks
    through one (an installed program's pool, whose source is not scanned): the model is
    read from the tree alone."""
    if current_kind != "multiprocessing" or pool_in_workers:
        return None
    if any(site.kind in ("process", "process_pool") for site in sites):
        return None
    return Reason(
        "model_inferred",
        "The worker processes were not started by a multiprocessing or concurrent.futures "
        "line of the program's source: the process model is inferred from the process tree, "
        "and the predicted speedup for it is outside what concdiag's bench has measured, so "
        f"confidence is capped at {INFERRED_MODEL_CONFIDENCE}.",
        {"confidence_cap": INFERRED_MODEL_CONFIDENCE},
    )


def arguments_unmeasured(current_kind: str, recommendation: str) -> Reason | None:
    """`arguments_unmeasured`: processes are recommended for work that runs in one process
    now (on threads, or serially), so nothing was pickled: what sending each task's
    arguments and results to a worker process costs is not in the prediction."""
    if current_kind not in ("threading", "serial") or recommendation != "multiprocessing":
        return None
    return Reason(
        "arguments_unmeasured",
        "The work runs in one process now, so its tasks' arguments and results are passed "
        "without copying; processes would pickle and pipe them, and this run could not "
        "measure what that costs. Large arguments per task can cost more than processes "
        "gain: pass them once instead (a pool initializer, fork's copy-on-write, shared "
        "memory), and `concdiag whatif` measures the process pool directly. Confidence is "
        f"capped at {UNMEASURED_SHIPPING_CONFIDENCE}.",
        {"confidence_cap": UNMEASURED_SHIPPING_CONFIDENCE},
    )


def small_serial_run(current_kind: str, recommendation: str, work: Work) -> Reason | None:
    """`small_serial_run`: a serial run recommended a pool on little work. Its prediction
    assumes the work divides into independent items; in one serial run concdiag cannot tell
    a program's set-up (configuration, plugins, an index written at the end) from its
    per-item work, and on little work the set-up decides."""
    if current_kind != "serial" or recommendation == "serial":
        return None
    if work.divisible_s >= SMALL_SERIAL_WORK_S:
        return None
    return Reason(
        "small_serial_run",
        f"The run did {work.divisible_s:.2f} s of work that the prediction divides among "
        "workers, all in one thread: how much of it is set-up that every worker would repeat, "
        "rather than items to share, one serial run cannot tell, and on this little work it "
        f"decides; so confidence is capped at {SMALL_SERIAL_RUN_CONFIDENCE}. A run on a "
        "larger input tells.",
        {"divisible_s": round(work.divisible_s, 3), "confidence_cap": SMALL_SERIAL_RUN_CONFIDENCE},
    )


def _rerun_majority_reason(measured: str, majority: str, outcomes: Counter[str]) -> Reason:
    """Why the verdict is not what the measurement alone gives: it sits on a margin."""
    draws = sum(outcomes.values()) or 1
    return Reason(
        "rerun_majority",
        f"This run's figures alone recommend {RECOMMENDATION_WORDS[measured]}, but they sit "
        f"on a margin: of simulated reruns (each share drawn within its error bars), "
        f"{pct(outcomes[majority] / draws)} recommend {RECOMMENDATION_WORDS[majority]} and "
        f"{pct(outcomes[measured] / draws)} {RECOMMENDATION_WORDS[measured]}. The verdict is "
        "what a rerun would most likely say.",
        {
            "measured_recommendation": measured,
            "share_measured": round(outcomes[measured] / draws, 3),
            "share_majority": round(outcomes[majority] / draws, 3),
        },
    )


#: How a recommendation reads in a sentence.
RECOMMENDATION_WORDS = {
    "threading": "threads",
    "multiprocessing": "processes",
    "serial": "staying serial",
}


def _deadlock_verdict(
    inputs: Inputs,
    shares: Shares,
    current_kind: str,
    current_evidence: str,
    sites: list[CodeSite],
    locks: LockReport,
) -> Verdict:
    """A deadlocked run: nothing else matters until the deadlock is fixed."""
    found = locks.deadlock
    assert found is not None
    points = predict(useful_work(inputs, current_kind))
    reasons = [r for r in (deadlock(locks), time_split(inputs, shares)) if r is not None]
    current = dataclasses.replace(
        _current_model(current_kind, current_evidence, sites, "serial", "deadlock"),
        matches=None,
        advice=(
            "Take the locks in one order everywhere, or hold one at a time; then choose a "
            "concurrency model."
            if found.confirmed
            else "Find what each stuck thread waits for (the report lists their stacks); "
            "then choose a concurrency model."
        ),
    )
    return Verdict(
        bound="deadlock",
        cpu_kind=None,
        recommendation="none",
        confidence=DEADLOCK_CONFIDENCE if found.confirmed else LIKELY_DEADLOCK_CONFIDENCE,
        summary=deadlock_summary(found),
        reasons=reasons,
        current_model=current,
        speedup_model=MODEL_TEXT,
        predicted_speedup=[
            SpeedupPoint(p.workers, round(p.threads, 3), round(p.processes, 3)) for p in points
        ],
    )


_MATCHES = {"threading": {"threading", "asyncio"}, "multiprocessing": {"multiprocessing"}}


def _current_model(
    kind: str, evidence: str, sites: list[CodeSite], recommendation: str, bound: str
) -> CurrentModel:
    if recommendation == "serial":
        matches = kind == "serial"
    else:
        matches = kind in _MATCHES[recommendation]
    where = ", ".join(f"{s.file.rsplit('/', 1)[-1]}:{s.line}" for s in sites[:SITES_IN_ADVICE])
    if matches and bound == "sync":
        advice = (
            "The current model fits, but the lock keeps its work serial now: each worker "
            "needs its own copy of what the lock guards."
        )
    elif matches:
        advice = "The current model fits the measurements."
    elif recommendation == "multiprocessing" and kind == "threading":
        advice = (
            "Replace the threads with a process pool (concurrent.futures.ProcessPoolExecutor)"
            + (f" at {where}" if where else "")
            + ": the work holds the GIL."
        )
    elif recommendation == "threading" and kind == "multiprocessing":
        advice = (
            "Use a thread pool (concurrent.futures.ThreadPoolExecutor) instead of processes"
            + (f" at {where}" if where else "")
            + ": threads overlap this work without start-up and pickling costs."
        )
    elif recommendation == "serial" and kind != "serial":
        advice = (
            "Parallelism does not pay here"
            + (" until the lock is fixed" if bound == "sync" else "")
            + (" until the deadlock is fixed" if bound == "deadlock" else "")
            + (f"; see {where}" if where else "")
            + "."
        )
    elif kind == "serial":
        pool = (
            "ProcessPoolExecutor" if recommendation == "multiprocessing" else "ThreadPoolExecutor"
        )
        advice = f"Split the work into independent tasks and run them on a {pool}."
    else:
        advice = f"Switch from {kind} to {recommendation}" + (f" at {where}" if where else "")
    return CurrentModel(kind=kind, evidence=evidence, sites=sites, matches=matches, advice=advice)


def _summary(
    bound: str,
    cpu_kind: str | None,
    recommendation: str,
    shares: Shares,
    current: CurrentModel,
    gil_enabled: bool = True,
) -> str:
    what = {
        "cpu": "CPU-bound"
        + (" in Python code holding the GIL" if cpu_kind == "python" else "")
        + ("" if gil_enabled else " with no GIL (threads run Python in parallel)"),
        "io": "I/O-bound",
        "mixed": "a mix of CPU and I/O",
        "sync": "bound by lock contention",
        "idle": "mostly idle",
    }[bound]
    if bound == "cpu" and cpu_kind == "native":
        what = "CPU-bound in native code that releases the GIL"
    rec = {
        "threading": "use threads",
        "multiprocessing": "use processes",
        "serial": "stay serial",
    }[recommendation]
    if recommendation == "threading" and bound == "cpu" and cpu_kind == "python" and gil_enabled:
        # threads win here only through the part that runs without the GIL: say so, or
        # "CPU-bound in Python code holding the GIL: use threads" reads as a contradiction
        rec = (
            f"use threads, for the {pct(1 - shares.python_of_cpu)} of its CPU that runs with "
            "the GIL released (its Python code stays serial in threads; processes are not "
            "predicted to do 1.25x better)"
        )
    return (
        f"This program is {what} ({pct(shares.cpu_share)} CPU, {pct(shares.io_share)} I/O, "
        f"{pct(shares.sync_share)} lock waits): {rec}. It runs {model_noun(current.kind)} now. "
        + current.advice
    )
