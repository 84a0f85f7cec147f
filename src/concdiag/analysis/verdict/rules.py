"""The verdict's rules: one small function each, from measured figures to a `Reason`.

Every rule reads `Inputs` (worker time by state, from the accounting) and the `Shares`
derived from them once, and returns the `Reason` it adds, carrying the figures it used, or
None when it does not apply. `verdict.decide` runs them in order. Their thresholds, and
where each number came from, are in `thresholds`.
"""

from __future__ import annotations

import dataclasses

from concdiag.analysis.accounting.event_loop import SLOW_CALLBACK_S
from concdiag.analysis.verdict.inputs import Inputs, Shares
from concdiag.analysis.verdict.speedup import Work, predict
from concdiag.analysis.verdict.thresholds import (
    CPU_BOUND_SHARE,
    CPU_KIND_SPLIT,
    CS_CPU_SHARE,
    GIL_CONTENTION_SHARE,
    GIL_HOLDER_NAMED_SHARE,
    IDLE_BUSY_SHARE,
    IDLE_MAX_CPU_SHARE,
    IDLE_SLEEP_SHARE,
    IO_BOUND_SHARE,
    MANY_THREADS_FOR_ASYNCIO,
    MIN_CS_SAMPLES,
    MIN_EXTERNAL_SHARE,
    MIN_GAIN,
    MIN_LOCK_WORKERS,
    MIN_MUTUAL_WAIT_S,
    MIN_OVERHEAD_S,
    MIN_POOL_WORKERS,
    MIN_SAVING_S,
    MIN_SLEEP_IN_CALLS_SHARE,
    MIN_WORK_S,
    MIN_WORKER_START_S,
    POOL_OVERHEAD_SHARE,
    PROCESS_MARGIN,
    SERIAL_SAID_S,
    SERIALISE_DOMINANT,
    SERIALISING_LOCK_SHARE,
    SYNC_BOUND_SHARE,
)
from concdiag.formatting import pct, place
from concdiag.model import JsonScalar, Reason, SpeedupPoint
from concdiag.model.gil_blame import BlamedLine
from concdiag.model.locks import LockProfile
from concdiag.model.speedup import ProcessStart

# -- bound ----------------------------------------------------------------------------------


def time_split(inputs: Inputs, s: Shares) -> Reason:
    figures: dict[str, JsonScalar] = {
        "cpu_share": round(s.cpu_share, 4),
        "io_share": round(s.io_share, 4),
        "sync_share": round(s.sync_share, 4),
        "python_share_of_cpu": round(s.python_of_cpu, 4),
        "worker_seconds": round(inputs.demand_s, 4),
    }
    under = f"{pct(s.python_of_cpu)} of it Python code under the GIL"
    if not inputs.gil_enabled:  # no GIL to tell Python from native code by
        under = "no GIL: Python code runs in parallel too"
        del figures["python_share_of_cpu"]
    return Reason(
        "time_split",
        f"Worker time splits into {pct(s.cpu_share)} CPU ({under}), {pct(s.io_share)} "
        f"waiting on I/O and {pct(s.sync_share)} waiting on locks.",
        figures,
    )


def lock_bound(inputs: Inputs, s: Shares) -> Reason | None:
    if s.sync_share < SYNC_BOUND_SHARE or inputs.worker_threads < MIN_LOCK_WORKERS:
        return None
    return Reason(
        "lock_bound",
        f"Workers spent {pct(s.sync_share)} of their time waiting to acquire locks "
        "held by each other: the work is serialised on a lock.",
        {"sync_share": round(s.sync_share, 4), "lock_wait_s": round(inputs.lock_s, 3)},
    )


def idle(inputs: Inputs, s: Shares) -> Reason | None:
    mostly_sleeping = (
        s.busy_of_wall < IDLE_BUSY_SHARE
        and s.cpu_share < IDLE_MAX_CPU_SHARE
        and s.sleep_of_io >= IDLE_SLEEP_SHARE
    )
    if not (inputs.demand_s < MIN_WORK_S or mostly_sleeping):
        return None
    return Reason(
        "idle",
        f"The program was busy only {pct(s.busy_of_wall)} of the time and "
        f"{pct(s.sleep_of_io)} of its waiting was sleep(): there is little work to "
        "spread over threads or processes.",
        {
            "busy_share_of_wall": round(s.busy_of_wall, 4),
            "sleep_share_of_io": round(s.sleep_of_io, 4),
        },
    )


def bound_of(inputs: Inputs, s: Shares) -> tuple[str, Reason | None]:
    """The bound, and the reason for it when a rule (rather than a share) decided it."""
    reason = lock_bound(inputs, s)
    if reason is not None:
        return "sync", reason
    reason = idle(inputs, s)
    if reason is not None:
        return "idle", reason
    if s.cpu_share >= CPU_BOUND_SHARE:
        return "cpu", None
    if s.io_share >= IO_BOUND_SHARE:
        return "io", None
    return "mixed", None


def cpu_kind_of(bound: str, s: Shares) -> str | None:
    if bound not in ("cpu", "mixed") or s.cpu_s <= 0:
        return None
    return "python" if s.python_of_cpu >= CPU_KIND_SPLIT else "native"


def cpu_bound(inputs: Inputs, s: Shares, bound: str, cpu_kind: str | None) -> Reason | None:
    """`cpu_bound_python` or `cpu_bound_native`."""
    if bound != "cpu" or cpu_kind is None:
        return None
    return Reason(
        "cpu_bound_" + cpu_kind,
        (
            f"{pct(s.python_of_cpu)} of the CPU time ran Python code holding the GIL: "
            "threads cannot run it in parallel."
            if cpu_kind == "python"
            else f"{pct(1 - s.python_of_cpu)} of the CPU time ran native code with "
            "the GIL released: threads can run it in parallel."
        ),
        {
            "gil_held_s": round(inputs.python_cpu_s, 3),
            "native_s": round(inputs.native_cpu_s, 3),
            "gil_wait_s": round(inputs.gil_wait_s, 3),
        },
    )


def external_commands(inputs: Inputs) -> Reason | None:
    """`external_commands`: a share of the work ran in commands the program started (a
    compiler, gzip): processes already, that threads can wait on several of at once."""
    if inputs.external_cpu_s < MIN_EXTERNAL_SHARE * max(inputs.demand_s, 1e-9):
        return None
    return Reason(
        "external_commands",
        f"{inputs.external_cpu_s:.2f} s of CPU ({pct(inputs.share(inputs.external_cpu_s))} of "
        f"worker time) ran in {inputs.external_processes} external command process(es) the "
        "program started: they hold no GIL, so threads that each wait on one run as many at "
        "once as there are cores, with no Python worker processes needed.",
        {
            "external_cpu_s": round(inputs.external_cpu_s, 3),
            "external_processes": inputs.external_processes,
        },
    )


def sleep_in_calls(inputs: Inputs, bound: str) -> Reason | None:
    """`sleep_in_calls`: much of the waiting was sleep inside each item's work (the line is
    in no loop of its own function), read as a stand-in for latency that threads overlap."""
    if bound not in ("io", "mixed") or inputs.sleep_in_calls_s < MIN_SLEEP_IN_CALLS_SHARE * (
        inputs.io_s or 1e-9
    ):
        return None
    return Reason(
        "sleep_in_calls",
        f"{inputs.sleep_in_calls_s:.2f} s of the waiting was sleep() called inside each "
        f"item's work (most at {inputs.sleep_in_calls_at}, a line in no loop of its own): "
        "read as latency, such as a remote call's round trip, that threads overlap. If the "
        "sleep paces the program instead (rate limiting, a back-off), running items at once "
        "gains nothing; so confidence is capped.",
        {
            "sleep_in_calls_s": round(inputs.sleep_in_calls_s, 3),
            "site": inputs.sleep_in_calls_at,
        },
    )


def gil_contention(inputs: Inputs) -> Reason | None:
    # max(..., 1e-9) only keeps an empty run from comparing 0 with 0
    if inputs.gil_wait_s <= GIL_CONTENTION_SHARE * max(inputs.demand_s, 1e-9):
        return None
    figures: dict[str, JsonScalar] = {"gil_wait_s": round(inputs.gil_wait_s, 3)}
    message = (
        f"Threads waited {inputs.gil_wait_s:.2f} s for the GIL "
        f"({pct(inputs.share(inputs.gil_wait_s))} of worker time)."
    )
    holder = inputs.gil_holder
    if holder is not None and holder.wait_s >= GIL_HOLDER_NAMED_SHARE * inputs.gil_wait_s:
        message += " " + gil_holder_sentence(holder)
        figures.update(holder_wait_s=holder.wait_s, holder_waiters=holder.waiters)
        if holder.function is not None:
            figures.update(holder_function=holder.function, holder_line=holder.line)
    return Reason("gil_contention", message, figures)


#: What unblocks an event loop, by what held it.
LOOP_ADVICE = {
    "cpu": (
        "it computes holding the GIL: run it in a process pool "
        "(loop.run_in_executor with a ProcessPoolExecutor)"
    ),
    "blocking": (
        "it blocks with the GIL released (a blocking call, I/O or native code): run it in a "
        "thread (asyncio.to_thread), or call its asyncio equivalent"
    ),
}
#: Lines named in the event loop's reason, most blocked time first.
LOOP_LINES_NAMED = 2


def event_loop_blocked(inputs: Inputs) -> Reason | None:
    """The asyncio loop's slow stretches, by the line and the kind of work that held it."""
    if not inputs.loop_stalls:
        return None
    groups: dict[tuple[str | None, str | None, int | None, str], list[float]] = {}
    for s in inputs.loop_stalls:
        groups.setdefault((s.function, s.file, s.line, s.kind), []).append(s.duration_s)
    ranked = sorted(groups.items(), key=lambda item: -sum(item[1]))
    total = sum(s.duration_s for s in inputs.loop_stalls)
    parts = []
    for (function, file, line, kind), durations in ranked[:LOOP_LINES_NAMED]:
        what = f"`{function}` ({place(file, line)})" if function else "code"
        times = f"{len(durations)} time{'s' if len(durations) != 1 else ''}"
        parts.append(
            f"{what} held it {sum(durations):.2f} s ({times}, longest {max(durations):.2f} s): "
            + LOOP_ADVICE[kind]
        )
    (function, _file, line, kind), _ = ranked[0]
    return Reason(
        "event_loop_blocked",
        f"The event loop ran callbacks for {total:.2f} s in stretches over "
        f"{SLOW_CALLBACK_S:g} s without once waiting for its next event (one callback, or "
        "several back to back): " + "; ".join(parts) + ".",
        {
            "loop_blocked_s": round(total, 3),
            "stretches": len(inputs.loop_stalls),
            "top_function": function,
            "top_line": line,
            "top_kind": kind,
        },
    )


def gil_holder_sentence(holder: BlamedLine) -> str:
    """Who the waits were for: the line holders were at, and what would free the GIL there."""
    threads = f"{holder.waiters} thread{'s' if holder.waiters != 1 else ''}"
    if holder.function is None:
        return (
            f"{threads} waited {holder.wait_s:.2f} s of it while the GIL's holders had no "
            "Python stack the sampler had read (native code, or threads too new or too "
            "short-lived for it): no line can be named."
        )
    where = place(holder.file, holder.line)
    return (
        f"{threads} waited {holder.wait_s:.2f} s of it while `{holder.function}` ({where}) "
        "held it: move that work to processes, or to native code that releases the GIL."
    )


# -- pool overhead --------------------------------------------------------------------------


def useful_work(inputs: Inputs, current_kind: str, shared_lock_hold_s: float = 0.0) -> Work:
    """The work to spread over workers, for the speedup model.

    With processes now, the pool's own CPU (pickling, piping, dispatch) is measured: it is not
    work, and it is what processes cost this program, split into what the workers pay per task
    and what the parent pays feeding them. With a thread pool now, what pickling its tasks
    would cost was estimated in the target (`Inputs.shipping`) and is charged the same way;
    otherwise processes are charged none. ``shared_lock_hold_s``: how long one lock every
    thread would share was held in a run that never contended it (`Work.shared_lock_hold_s`).
    """
    # worker processes' start-up (their imports) is what processes cost, not work to divide
    start_native = min(inputs.worker_start_native_s, inputs.worker_start_s)
    held = max(0.0, inputs.python_cpu_s - (inputs.worker_start_s - start_native))
    native = max(0.0, inputs.native_cpu_s - start_native)
    ipc_s = ipc_workers_s = 0.0
    if current_kind == "multiprocessing":
        held = max(0.0, held - inputs.serialise_held_s - inputs.dispatch_held_s)
        native = max(0.0, native - inputs.serialise_native_s - inputs.dispatch_native_s)
        overhead_s = inputs.serialise_s + inputs.dispatch_s
        ipc_workers_s = min(inputs.overhead_in_workers_s, overhead_s)
        ipc_s = overhead_s - ipc_workers_s
    elif current_kind == "threading" and inputs.shipping.measured:
        # what pickling this run's thread-pool tasks was estimated to cost a process pool
        ipc_s, ipc_workers_s = inputs.shipping.parent_s, inputs.shipping.workers_s
    serial_held = min(held, inputs.serial_held_s)
    serial_native = min(native, inputs.serial_native_s)
    serial_io = min(inputs.io_s, inputs.serial_io_s)
    return Work(
        python_cpu_s=held - serial_held,
        native_cpu_s=native - serial_native,
        io_s=inputs.io_s - serial_io,
        lock_s=inputs.lock_s,
        cores=inputs.cores,
        serial_s=serial_held + serial_native + serial_io,
        ipc_s=ipc_s,
        ipc_workers_s=ipc_workers_s,
        free_threaded=not inputs.gil_enabled,
        dispatch_s=inputs.dispatch_s if current_kind == "multiprocessing" else 0.0,
        start_method=inputs.start_method,
        measured_start_s=inputs.start_per_worker_s,
        # its holds are inside the work they serialise
        shared_lock_hold_s=min(
            shared_lock_hold_s,
            held + native - serial_held - serial_native + inputs.io_s - serial_io + inputs.lock_s,
        ),
    )


def lock_would_serialise(lock: LockProfile | None, work: Work) -> Reason | None:
    """`lock_would_serialise`: in a run that never contended it (a serial run), one lock was
    held for much of the work: threads sharing it would take turns, processes would each have
    their own."""
    if lock is None or work.shared_lock_hold_s < SERIALISING_LOCK_SHARE * work.divisible_s:
        return None
    return Reason(
        "lock_would_serialise",
        f"The lock {lock.prose_name} was held {work.shared_lock_hold_s:.2f} s of "
        f"{work.total_s:.2f} s of work, never contended here: threads sharing it would take "
        "turns, so the prediction for threads runs no faster than its holds; processes would "
        "each have their own (give each thread its own copy of what it guards, or hold it "
        "for less, to let threads run).",
        {
            "lock": lock.prose_name,
            "hold_s": round(work.shared_lock_hold_s, 3),
            "work_s": round(work.total_s, 3),
        },
    )


def worker_start_up(inputs: Inputs) -> Reason | None:
    """`worker_start_up`: worker processes spent as long starting (importing) as working, or
    longer: the work is too small to share among processes."""
    if not inputs.worker_processes or inputs.worker_start_s < MIN_WORKER_START_S:
        return None
    if inputs.worker_start_s < inputs.worker_work_s:
        return None
    per = inputs.start_per_worker_s
    work_per = inputs.worker_work_s / inputs.worker_processes
    return Reason(
        "worker_start_up",
        f"Each worker process took {per:.2f} s of CPU to start (importing) and did "
        f"{work_per:.2f} s of work: starting workers costs more than the work they share.",
        {
            "worker_processes": inputs.worker_processes,
            "start_per_worker_s": round(per, 3),
            "work_per_worker_s": round(work_per, 3),
        },
    )


def pool_overhead(inputs: Inputs, work: Work) -> Reason | None:
    """`arguments_too_large` or `tasks_too_small`: the pool costs about as much as the work.

    Large arguments show as pickling and piping with little dispatch; many small tasks pay
    both, per task.
    """
    overhead_s = inputs.serialise_s + inputs.dispatch_s
    useful_cpu = work.python_cpu_s + work.native_cpu_s
    if overhead_s < MIN_OVERHEAD_S or overhead_s < POOL_OVERHEAD_SHARE * useful_cpu:
        return None
    serialise = inputs.serialise_s >= SERIALISE_DOMINANT * inputs.dispatch_s
    return Reason(
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


# -- recommendation -------------------------------------------------------------------------


def predicted_speedup(
    inputs: Inputs, points: list[SpeedupPoint], start: ProcessStart | None = None
) -> Reason:
    best_threads = max(points, key=lambda p: p.threads)
    best_processes = max(points, key=lambda p: p.processes)
    at_cores = points[min(inputs.cores, len(points)) - 1]
    figures: dict[str, JsonScalar] = {
        "start_method": inputs.start_method,
        "threads_best": round(best_threads.threads, 3),
        "threads_best_workers": best_threads.workers,
        "processes_best": round(best_processes.processes, 3),
        "processes_best_workers": best_processes.workers,
        "cores": inputs.cores,
        "serial_cpu_s": round(inputs.serial_s, 3),
        "serial_io_s": round(inputs.serial_io_s, 3),
    }
    if inputs.worker_processes:
        figures["measured_start_per_worker_s"] = round(inputs.start_per_worker_s, 3)
    return Reason(
        "predicted_speedup",
        f"Predicted speedup: threads up to {best_threads.threads:.2f}x "
        f"({best_threads.workers} workers), processes up to "
        f"{best_processes.processes:.2f}x ({best_processes.workers} workers); with "
        f"{inputs.cores} workers {at_cores.threads:.2f}x vs {at_cores.processes:.2f}x."
        + (
            f" {inputs.serial_s:.2f} s of the CPU does not divide among workers (the "
            "program's imports, and its coordinating threads' own work)."
            if inputs.serial_s >= SERIAL_SAID_S
            else ""
        )
        + (
            f" {inputs.serial_io_s:.2f} s of the main thread's own I/O waits, while no "
            "worker worked, does not divide either."
            if inputs.serial_io_s >= SERIAL_SAID_S
            else ""
        )
        + _start_charged(inputs, start),
        figures,
    )


def _start_charged(inputs: Inputs, start: ProcessStart | None) -> str:
    """What the process model charges to start each worker: the start method's figure, or
    the start-up measured in this run's worker processes when that is larger."""
    measured = inputs.start_per_worker_s
    if start is not None and measured > start.per_process_s:
        return (
            f" Process start-up charged: {measured * 1000:.0f} ms per process, as this run's "
            f"{inputs.worker_processes} worker process(es) took to start (importing)."
        )
    return f" Process start-up charged: {start.describe()}." if start else ""


def fix_lock_first(inputs: Inputs, bound: str) -> Reason | None:
    if bound != "sync":
        return None
    return Reason(
        "fix_lock_first",
        "More workers would queue on the same lock; shorten or split the critical "
        "section (or hold no lock across I/O) before adding parallelism.",
        {"lock_wait_s": round(inputs.lock_s, 3)},
    )


def too_short(work: Work) -> Reason | None:
    if work.total_s >= MIN_WORK_S:
        return None
    return Reason(
        "too_short",
        f"Only {work.total_s:.3f} s of work: starting workers would cost more than it saves.",
        {"work_s": round(work.total_s, 4)},
    )


def no_gain(points: list[SpeedupPoint]) -> Reason | None:
    if max(max(p.threads, p.processes) for p in points) >= MIN_GAIN:
        return None
    return Reason(
        "no_gain",
        f"Neither threads nor processes are predicted to gain {pct(MIN_GAIN - 1)} or more.",
        {"min_gain": MIN_GAIN},
    )


def at_pool_size(cores: int, points: list[SpeedupPoint]) -> SpeedupPoint:
    """The predicted speedups at the pool size people run (`MIN_POOL_WORKERS` says why)."""
    return points[min(max(cores, MIN_POOL_WORKERS), len(points)) - 1]


def threads_or_processes(cores: int, points: list[SpeedupPoint]) -> str:
    """Threads unless processes win by `PROCESS_MARGIN`, or unless threads gain nothing worth
    having (under `MIN_GAIN`) where processes do: a pool of threads that cannot gain is no
    cheaper choice."""
    at_pool = at_pool_size(cores, points)
    if at_pool.processes > at_pool.threads * PROCESS_MARGIN:
        return "multiprocessing"
    if at_pool.threads < MIN_GAIN <= at_pool.processes:
        return "multiprocessing"
    return "threading"


def no_gain_at_pool(cores: int, points: list[SpeedupPoint], choice: str) -> Reason | None:
    """`no_gain_at_pool`: the model chosen gains under `MIN_GAIN` at the pool size this machine
    runs, though some larger pool was predicted to: stay serial rather than recommend a model
    the figures beside it say does not pay."""
    at_pool = at_pool_size(cores, points)
    gain = at_pool.threads if choice == "threading" else at_pool.processes
    if gain >= MIN_GAIN:
        return None
    noun = "threads" if choice == "threading" else "processes"
    return Reason(
        "no_gain_at_pool",
        f"With {at_pool.workers} workers (the pool this machine runs) {noun} are predicted at "
        f"{gain:.2f}x and the other model at "
        f"{at_pool.processes if choice == 'threading' else at_pool.threads:.2f}x: neither gains "
        f"{pct(MIN_GAIN - 1)} or more.",
        {
            "workers": at_pool.workers,
            "threads": round(at_pool.threads, 3),
            "processes": round(at_pool.processes, 3),
            "min_gain": MIN_GAIN,
        },
    )


def predicted_saving_s(work: Work, point: SpeedupPoint, choice: str) -> float:
    """Seconds the chosen model is predicted to save on this run's work."""
    gain = point.threads if choice == "threading" else point.processes
    return work.total_s * (1.0 - 1.0 / gain) if gain > 0 else 0.0


def not_worth_it(
    inputs: Inputs, work: Work, points: list[SpeedupPoint], choice: str
) -> Reason | None:
    """`waits_exceed_gain` or `small_saving`: the model chosen would save less than the
    program's workers spent all waiting on each other, or less than a run's own spread."""
    at_pool = at_pool_size(inputs.cores, points)
    saving = predicted_saving_s(work, at_pool, choice)
    noun = "threads" if choice == "threading" else "processes"
    figures: dict[str, JsonScalar] = {
        "saving_s": round(saving, 3),
        "work_s": round(work.total_s, 3),
        "workers": at_pool.workers,
    }
    if inputs.mutual_wait_s >= MIN_MUTUAL_WAIT_S and inputs.mutual_wait_s >= saving:
        return Reason(
            "waits_exceed_gain",
            f"For {inputs.mutual_wait_s:.2f} s every thread and process of the program waited "
            "on another (hand-offs between workers, timeouts in its pool): no CPU, no I/O. "
            f"{at_pool.workers} {noun} are predicted to save {saving:.2f} s of "
            f"{work.total_s:.2f} s of work, less than that: run it without its pool.",
            {**figures, "mutual_wait_s": round(inputs.mutual_wait_s, 3)},
        )
    if saving < MIN_SAVING_S:
        return Reason(
            "small_saving",
            f"{at_pool.workers} {noun} are predicted to save {saving:.2f} s of "
            f"{work.total_s:.2f} s of work: less than a run of a real program varies by "
            "from one repetition to the next, so not worth a pool.",
            figures,
        )
    return None


def recommend(
    inputs: Inputs,
    bound: str,
    work: Work,
    points: list[SpeedupPoint],
    lock: LockProfile | None = None,
) -> tuple[str, Reason | None]:
    """The recommendation, and the rule that decided it when not the predicted speedup: the
    one that kept it serial (idle says why in its bound), or `own_resource_per_worker`'s for
    a lock-bound program whose top lock (``lock``) is held over CPU work."""
    if bound == "idle":
        return "serial", None
    locked = fix_lock_first(inputs, bound)
    if locked is not None:
        return own_resource_per_worker(inputs, work, lock) or ("serial", locked)
    # CPU work whose worker processes spent as long starting as working: the processes
    # cost more than they share, and threads could only overlap the GIL-free sliver
    starting = worker_start_up(inputs) if bound == "cpu" else None
    for reason in (too_short(work), starting, no_gain(points)):
        if reason is not None:
            return "serial", reason
    choice = threads_or_processes(inputs.cores, points)
    short = not_paying(inputs, work, points, choice)
    # threads were the cheaper choice, but they do not pay: where processes do, they are the
    # only model that gains (as when threads gain under MIN_GAIN)
    if (
        short is not None
        and choice == "threading"
        and not_paying(inputs, work, points, "multiprocessing") is None
    ):
        return "multiprocessing", only_processes_pay(inputs, work, points, short)
    if short is not None:
        return "serial", short
    return choice, None


def not_paying(
    inputs: Inputs, work: Work, points: list[SpeedupPoint], choice: str
) -> Reason | None:
    """Why the model chosen does not pay at the pool size this machine runs, if it does not."""
    return no_gain_at_pool(inputs.cores, points, choice) or not_worth_it(
        inputs, work, points, choice
    )


def only_processes_pay(
    inputs: Inputs, work: Work, points: list[SpeedupPoint], threads_short: Reason
) -> Reason:
    """`only_processes_pay`: threads, the cheaper model, would not pay (`threads_short` says
    why); processes are predicted to, so they are the model that gains."""
    at_pool = at_pool_size(inputs.cores, points)
    threads_s = predicted_saving_s(work, at_pool, "threading")
    processes_s = predicted_saving_s(work, at_pool, "multiprocessing")
    return Reason(
        "only_processes_pay",
        f"With {at_pool.workers} workers threads are predicted at {at_pool.threads:.2f}x, "
        f"saving {threads_s:.2f} s of {work.total_s:.2f} s of work: not worth a pool "
        f"({threads_short.rule}). Processes are predicted at {at_pool.processes:.2f}x, saving "
        f"{processes_s:.2f} s: they are the model that gains.",
        {
            "workers": at_pool.workers,
            "threads": round(at_pool.threads, 3),
            "processes": round(at_pool.processes, 3),
            "threads_saving_s": round(threads_s, 3),
            "processes_saving_s": round(processes_s, 3),
            "threads_short": threads_short.rule,
        },
    )


def own_resource_per_worker(
    inputs: Inputs, work: Work, lock: LockProfile | None
) -> tuple[str, Reason] | None:
    """`own_resource_per_process` or `own_resource_per_thread`: the lock that makes the
    program lock-bound is held over CPU work (computing inside it, not waiting on I/O), and
    a lock over work is one each worker could do without, given its own copy of what the
    lock guards (a connection, a compressor, a parser): the work then runs in parallel. It
    is predicted with the lock's waits taken out. Processes are recommended when they clear
    `MIN_GAIN` and threads do not beat them by `PROCESS_MARGIN`: a process has its own copy
    of what it creates by construction, while threads need theirs made. Else threads, when
    they clear `MIN_GAIN` (what runs inside releases the GIL, and processes cost more than
    they gain).
    """
    if lock is None or lock.advice_kind in ("none", "move_blocking_call"):
        return None
    if not lock.critical_sections:
        return None
    section = lock.critical_sections[0]
    # how long the lock was held is the tracker's exact figure; what the holder did inside
    # comes from the few samples that land there (holds shorter than a tick are mostly
    # seen in the waiters' state), so they only need not say it blocks
    hold_s = section.hold_s or lock.hold_s or 0.0
    if hold_s * inputs.samples_per_s < MIN_CS_SAMPLES:
        return None
    held = section.states.get("gil_held", 0.0) + section.states.get("gil_wait", 0.0)
    cpu = held + section.states.get("native", 0.0)
    inside = cpu + section.states.get("io", 0.0)
    if cpu < CS_CPU_SHARE * inside:
        return None
    at_pool = at_pool_size(inputs.cores, predict(dataclasses.replace(work, lock_s=0.0)))
    # a process has its own copy of everything by construction, threads need theirs made
    # (thread-local); so processes unless threads are predicted to win by the margin
    processes = at_pool.processes >= MIN_GAIN and (
        at_pool.processes * PROCESS_MARGIN >= at_pool.threads
    )
    if not processes and at_pool.threads < MIN_GAIN:
        return None
    choice = "multiprocessing" if processes else "threading"
    figures: dict[str, JsonScalar] = {
        "lock": lock.prose_name,
        "hold_s": round(hold_s, 3),
        "cpu_share_inside": round(cpu / inside, 3) if inside else None,
        "held_share_of_cpu": round(held / cpu, 3) if cpu else None,
        "threads": round(at_pool.threads, 3),
        "processes": round(at_pool.processes, 3),
        "workers": at_pool.workers,
    }
    seen = (
        f"{pct(held / cpu)} of the CPU sampled inside in Python holding the GIL"
        if cpu
        else "no I/O sampled inside"
    )
    computing = (
        f"The lock {lock.prose_name} is held {hold_s:.2f} s over work "
        f"at {section.at.place} ({seen}): it serialises work that workers could do side by "
        "side."
    )
    shared = " If the lock guards data that must stay shared, shorten the section instead."
    if choice == "multiprocessing":
        native = cpu > 0 and held < CS_CPU_SHARE * cpu
        return choice, Reason(
            "own_resource_per_process",
            f"{computing} Give each worker process its own copy of what the lock guards "
            "(its own connection, parser or cache: a process has its own copy of everything "
            "it creates) and the lock has nothing left to guard: with "
            f"{at_pool.workers} processes, {at_pool.processes:.2f}x predicted."
            + (
                " The work inside releases the GIL, so threads each with a copy of their own "
                f"would run it in parallel too ({at_pool.threads:.2f}x predicted)."
                if native
                else " Threads could not share its Python part."
            )
            + shared,
            figures,
        )
    return choice, Reason(
        "own_resource_per_thread",
        f"{computing} The work inside releases the GIL, so the lock, not the GIL, keeps it "
        "serial. Give each thread its own copy of what the lock guards (its own compressor, "
        "parser or connection) and merge the results at the end: with "
        f"{at_pool.workers} threads, {at_pool.threads:.2f}x predicted.{shared}",
        figures,
    )


def consider_asyncio(inputs: Inputs, bound: str, recommendation: str) -> Reason | None:
    if (
        recommendation != "threading"
        or bound != "io"
        or inputs.worker_threads < MANY_THREADS_FOR_ASYNCIO
    ):
        return None
    return Reason(
        "consider_asyncio",
        f"{inputs.worker_threads} threads mostly wait on I/O: asyncio serves many "
        "concurrent waits with less memory and switching than threads.",
        {"worker_threads": inputs.worker_threads},
    )
