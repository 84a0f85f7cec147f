"""The verdict: small named rules from measured figures to bound, recommendation, confidence.

Every rule returns a `Reason` carrying the figures it used, so a reader (and a test) can see
why. The rules work on *worker time*: the time Python threads spent, less their waits for
other workers (joins, futures, pool results), which measure coordination, not the work.
"""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.analysis.accounting import Accounting
from concdiag.analysis.speedup import MODEL_TEXT, Work, predict
from concdiag.model import CodeSite, CurrentModel, Reason, SpeedupPoint, Verdict

CPU_BOUND_SHARE = 0.65
IO_BOUND_SHARE = 0.65
SYNC_BOUND_SHARE = 0.35
IDLE_BUSY_SHARE = 0.10
IDLE_SLEEP_SHARE = 0.8
MIN_GAIN = 1.15  # below this predicted speedup, parallelism is not worth its cost
#: Processes must be predicted this much faster than threads to be recommended: what the model
#: leaves out (pickling each task, memory per process) makes a smaller edge unreliable.
PROCESS_MARGIN = 1.25
MIN_WORK_S = 0.1
MANY_THREADS_FOR_ASYNCIO = 50
MIN_SAMPLES = 50
#: Pool machinery costing this share of the useful CPU (or more) is named as a reason.
POOL_OVERHEAD_SHARE = 0.5
MIN_OVERHEAD_S = 0.05
SERIALISE_DOMINANT = 3.0


@dataclass(frozen=True, slots=True)
class Inputs:
    """The figures the rules read, derived from the accounting."""

    python_cpu_s: float  # GIL held
    gil_wait_s: float
    native_cpu_s: float
    io_s: float
    lock_s: float  # sync waits that are not coordination
    unknown_s: float
    sleep_s: float
    wall_s: float
    cores: int
    worker_threads: int
    samples: int
    gil_measured: bool
    gil_enabled: bool
    stacks_available: bool
    #: CPU in pool machinery (already inside python_cpu_s / native_cpu_s): pickling and
    #: piping arguments and results, and dispatching tasks and futures.
    serialise_held_s: float = 0.0
    serialise_native_s: float = 0.0
    dispatch_held_s: float = 0.0
    dispatch_native_s: float = 0.0

    @property
    def serialise_s(self) -> float:
        return self.serialise_held_s + self.serialise_native_s

    @property
    def dispatch_s(self) -> float:
        return self.dispatch_held_s + self.dispatch_native_s

    @property
    def demand_s(self) -> float:
        return self.python_cpu_s + self.gil_wait_s + self.native_cpu_s + self.io_s + self.lock_s

    def share(self, seconds: float) -> float:
        return seconds / self.demand_s if self.demand_s > 0 else 0.0


def inputs_from(acc: Accounting, cores: int, gil_enabled: bool, stacks: bool) -> Inputs:
    w = acc.summary.worker_seconds
    root = next((p for p in acc.processes if p.is_root), None)
    return Inputs(
        python_cpu_s=w.gil_held,
        gil_wait_s=w.gil_wait,
        native_cpu_s=w.native,
        io_s=w.io,
        lock_s=w.sync,
        unknown_s=w.unknown,
        sleep_s=acc.sleep_s,
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
    )


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def decide(
    inputs: Inputs,
    current_kind: str,
    current_evidence: str,
    sites: list[CodeSite],
) -> Verdict:
    reasons: list[Reason] = []
    cpu_s = inputs.python_cpu_s + inputs.gil_wait_s + inputs.native_cpu_s
    cpu_share = inputs.share(cpu_s)
    io_share = inputs.share(inputs.io_s)
    sync_share = inputs.share(inputs.lock_s)
    python_of_cpu = (inputs.python_cpu_s + inputs.gil_wait_s) / cpu_s if cpu_s > 0 else 0.0
    sleep_of_io = min(1.0, inputs.sleep_s / inputs.io_s) if inputs.io_s > 0 else 0.0
    busy_of_wall = (inputs.python_cpu_s + inputs.native_cpu_s) / inputs.wall_s

    reasons.append(
        Reason(
            "time_split",
            f"Worker time splits into {_pct(cpu_share)} CPU "
            f"({_pct(python_of_cpu)} of it Python code under the GIL), {_pct(io_share)} "
            f"waiting on I/O and {_pct(sync_share)} waiting on locks.",
            {
                "cpu_share": round(cpu_share, 4),
                "io_share": round(io_share, 4),
                "sync_share": round(sync_share, 4),
                "python_share_of_cpu": round(python_of_cpu, 4),
                "worker_seconds": round(inputs.demand_s, 4),
            },
        )
    )

    # -- bound --------------------------------------------------------------------------------
    if sync_share >= SYNC_BOUND_SHARE and inputs.worker_threads >= 2:
        bound = "sync"
        reasons.append(
            Reason(
                "lock_bound",
                f"Workers spent {_pct(sync_share)} of their time waiting to acquire locks "
                "held by each other: the work is serialised on a lock.",
                {"sync_share": round(sync_share, 4), "lock_wait_s": round(inputs.lock_s, 3)},
            )
        )
    elif inputs.demand_s < MIN_WORK_S or (
        busy_of_wall < IDLE_BUSY_SHARE and cpu_share < 0.5 and sleep_of_io >= IDLE_SLEEP_SHARE
    ):
        bound = "idle"
        reasons.append(
            Reason(
                "idle",
                f"The program was busy only {_pct(busy_of_wall)} of the time and "
                f"{_pct(sleep_of_io)} of its waiting was sleep(): there is little work to "
                "spread over threads or processes.",
                {
                    "busy_share_of_wall": round(busy_of_wall, 4),
                    "sleep_share_of_io": round(sleep_of_io, 4),
                },
            )
        )
    elif cpu_share >= CPU_BOUND_SHARE:
        bound = "cpu"
    elif io_share >= IO_BOUND_SHARE:
        bound = "io"
    else:
        bound = "mixed"

    cpu_kind: str | None = None
    if bound in ("cpu", "mixed") and cpu_s > 0:
        cpu_kind = "python" if python_of_cpu >= 0.5 else "native"
        if bound == "cpu":
            reasons.append(
                Reason(
                    "cpu_bound_" + cpu_kind,
                    (
                        f"{_pct(python_of_cpu)} of the CPU time ran Python code holding the GIL: "
                        "threads cannot run it in parallel."
                        if cpu_kind == "python"
                        else f"{_pct(1 - python_of_cpu)} of the CPU time ran native code with "
                        "the GIL released: threads can run it in parallel."
                    ),
                    {
                        "gil_held_s": round(inputs.python_cpu_s, 3),
                        "native_s": round(inputs.native_cpu_s, 3),
                        "gil_wait_s": round(inputs.gil_wait_s, 3),
                    },
                )
            )
    if inputs.gil_wait_s > 0.05 * max(inputs.demand_s, 1e-9):
        reasons.append(
            Reason(
                "gil_contention",
                f"Threads waited {inputs.gil_wait_s:.2f} s for the GIL "
                f"({_pct(inputs.share(inputs.gil_wait_s))} of worker time).",
                {"gil_wait_s": round(inputs.gil_wait_s, 3)},
            )
        )

    # -- recommendation -----------------------------------------------------------------------
    # With processes now, the pool's own CPU (pickling, piping, dispatch) is measured: it is
    # not work, and it is what processes cost this program; other models are charged none.
    overhead_s = inputs.serialise_s + inputs.dispatch_s
    useful_held = inputs.python_cpu_s
    useful_native = inputs.native_cpu_s
    ipc_s = 0.0
    if current_kind == "processes":
        useful_held = max(0.0, useful_held - inputs.serialise_held_s - inputs.dispatch_held_s)
        useful_native = max(
            0.0, useful_native - inputs.serialise_native_s - inputs.dispatch_native_s
        )
        ipc_s = overhead_s
    useful_cpu = useful_held + useful_native
    if overhead_s >= MIN_OVERHEAD_S and overhead_s >= POOL_OVERHEAD_SHARE * useful_cpu:
        # Large arguments show as pickling and piping with little dispatch; many small tasks
        # pay both, per task.
        serialise = inputs.serialise_s >= SERIALISE_DOMINANT * inputs.dispatch_s
        reasons.append(
            Reason(
                "arguments_too_large" if serialise else "tasks_too_small",
                (
                    f"The pool spent {overhead_s:.2f} s of CPU moving work between processes "
                    f"({inputs.serialise_s:.2f} s pickling and piping arguments and results, "
                    f"{inputs.dispatch_s:.2f} s dispatching tasks) against {useful_cpu:.2f} s "
                    "of the work itself: "
                    + (
                        "the arguments are too large to pickle cheaply."
                        if serialise
                        else "the tasks are too small for a process pool."
                    )
                ),
                {
                    "pool_overhead_s": round(overhead_s, 3),
                    "serialise_s": round(inputs.serialise_s, 3),
                    "dispatch_s": round(inputs.dispatch_s, 3),
                    "useful_cpu_s": round(useful_cpu, 3),
                },
            )
        )
    work = Work(
        python_cpu_s=useful_held,
        native_cpu_s=useful_native,
        io_s=inputs.io_s,
        lock_s=inputs.lock_s,
        cores=inputs.cores,
        ipc_s=ipc_s,
        free_threaded=not inputs.gil_enabled,
        dispatch_s=inputs.dispatch_s if current_kind == "processes" else 0.0,
    )
    points = predict(work)
    best_threads = max(points, key=lambda p: p.threads)
    best_processes = max(points, key=lambda p: p.processes)
    at_cores = points[min(inputs.cores, len(points)) - 1]
    at_pool = points[min(max(inputs.cores, 2), len(points)) - 1]
    reasons.append(
        Reason(
            "predicted_speedup",
            f"Predicted speedup: threads up to {best_threads.threads:.2f}x "
            f"({best_threads.workers} workers), processes up to "
            f"{best_processes.processes:.2f}x ({best_processes.workers} workers); with "
            f"{inputs.cores} workers {at_cores.threads:.2f}x vs {at_cores.processes:.2f}x.",
            {
                "threads_best": round(best_threads.threads, 3),
                "threads_best_workers": best_threads.workers,
                "processes_best": round(best_processes.processes, 3),
                "processes_best_workers": best_processes.workers,
                "cores": inputs.cores,
            },
        )
    )

    if bound == "idle":
        recommendation = "serial"
    elif bound == "sync":
        recommendation = "serial"
        reasons.append(
            Reason(
                "fix_lock_first",
                "More workers would queue on the same lock; shorten or split the critical "
                "section (or hold no lock across I/O) before adding parallelism.",
                {"lock_wait_s": round(inputs.lock_s, 3)},
            )
        )
    elif work.total_s < MIN_WORK_S:
        recommendation = "serial"
        reasons.append(
            Reason(
                "too_short",
                f"Only {work.total_s:.3f} s of work: starting workers would cost more than "
                "it saves.",
                {"work_s": round(work.total_s, 4)},
            )
        )
    elif max(best_threads.threads, best_processes.processes) < MIN_GAIN:
        recommendation = "serial"
        reasons.append(
            Reason(
                "no_gain",
                "Neither threads nor processes are predicted to gain "
                f"{_pct(MIN_GAIN - 1)} or more.",
                {"min_gain": MIN_GAIN},
            )
        )
    elif at_pool.processes > at_pool.threads * PROCESS_MARGIN:
        # Compared at the pool size people run (one worker per core, at least 2): beyond the
        # cores, extra processes only overlap waits that threads overlap as well.
        recommendation = "multiprocessing"
    else:
        recommendation = "threading"
    if not inputs.gil_enabled and bound in ("cpu", "mixed"):
        reasons.append(
            Reason(
                "free_threaded",
                "This interpreter runs without a GIL: threads run Python code in parallel.",
                {"gil_enabled": False},
            )
        )
    if (
        recommendation == "threading"
        and bound == "io"
        and inputs.worker_threads >= MANY_THREADS_FOR_ASYNCIO
    ):
        reasons.append(
            Reason(
                "consider_asyncio",
                f"{inputs.worker_threads} threads mostly wait on I/O: asyncio serves many "
                "concurrent waits with less memory and switching than threads.",
                {"worker_threads": inputs.worker_threads},
            )
        )

    confidence = _confidence(inputs, bound, cpu_share, io_share, sync_share, python_of_cpu)
    current = _current_model(current_kind, current_evidence, sites, recommendation, bound)
    summary = _summary(bound, cpu_kind, recommendation, cpu_share, io_share, sync_share, current)
    return Verdict(
        bound=bound,
        cpu_kind=cpu_kind,
        recommendation=recommendation,
        confidence=round(confidence, 2),
        summary=summary,
        reasons=reasons,
        current_model=current,
        speedup_model=MODEL_TEXT,
        predicted_speedup=[
            SpeedupPoint(p.workers, round(p.threads, 3), round(p.processes, 3)) for p in points
        ],
    )


def _confidence(
    inputs: Inputs,
    bound: str,
    cpu_share: float,
    io_share: float,
    sync_share: float,
    python_of_cpu: float,
) -> float:
    """How far the deciding figures are from their thresholds, discounted for blind spots."""
    if bound == "cpu":
        strength = (cpu_share - CPU_BOUND_SHARE) / (1 - CPU_BOUND_SHARE)
        strength = min(strength, abs(python_of_cpu - 0.5) * 2)
    elif bound == "io":
        strength = (io_share - IO_BOUND_SHARE) / (1 - IO_BOUND_SHARE)
    elif bound == "sync":
        strength = (sync_share - SYNC_BOUND_SHARE) / (1 - SYNC_BOUND_SHARE)
    elif bound == "idle":
        strength = 0.8
    else:  # mixed: confident when far from both bounds
        strength = 1 - max(cpu_share / CPU_BOUND_SHARE, io_share / IO_BOUND_SHARE) + 0.4
    confidence = 0.5 + 0.45 * max(0.0, min(1.0, strength))
    unknown_share = inputs.unknown_s / (inputs.demand_s + inputs.unknown_s or 1.0)
    confidence *= 1 - unknown_share
    if inputs.samples < MIN_SAMPLES:
        confidence = min(confidence, 0.4)
    if inputs.gil_enabled and not inputs.gil_measured:
        confidence = min(confidence, 0.6)
    if not inputs.stacks_available:
        confidence = min(confidence, 0.7)
    return max(0.05, confidence)


_MATCHES = {"threading": {"threads", "asyncio"}, "multiprocessing": {"processes"}}


def _current_model(
    kind: str, evidence: str, sites: list[CodeSite], recommendation: str, bound: str
) -> CurrentModel:
    if recommendation == "serial":
        matches = kind == "serial"
    else:
        matches = kind in _MATCHES[recommendation]
    where = ", ".join(f"{s.file.rsplit('/', 1)[-1]}:{s.line}" for s in sites[:4])
    if matches:
        advice = "The current model fits the measurements."
    elif recommendation == "multiprocessing" and kind == "threads":
        advice = (
            "Replace the threads with a process pool (concurrent.futures.ProcessPoolExecutor)"
            + (f" at {where}" if where else "")
            + ": the work holds the GIL."
        )
    elif recommendation == "threading" and kind == "processes":
        advice = (
            "Use a thread pool (concurrent.futures.ThreadPoolExecutor) instead of processes"
            + (f" at {where}" if where else "")
            + ": threads overlap this work without start-up and pickling costs."
        )
    elif recommendation == "serial" and kind != "serial":
        advice = (
            "Parallelism does not pay here"
            + (" until the lock is fixed" if bound == "sync" else "")
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
    cpu_share: float,
    io_share: float,
    sync_share: float,
    current: CurrentModel,
) -> str:
    what = {
        "cpu": "CPU-bound" + (" in Python code holding the GIL" if cpu_kind == "python" else ""),
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
    return (
        f"This program is {what} ({_pct(cpu_share)} CPU, {_pct(io_share)} I/O, "
        f"{_pct(sync_share)} lock waits): {rec}. It runs {current.kind} now. " + current.advice
    )
