"""Predicted speedup for N workers under threads and under processes.

The model (stated in every profile as ``verdict.speedup_model``): take the measured worker
time as the serial work ``T1 = S + D`` with ``D = P + C + W + L``, where S is time that no
number of workers divides (the root process's imports, the own work of its threads that
coordinate workers: feeding a pool, collecting results, and its main thread's own CPU and I/O
waits while no worker worked: preparing a pool's input, cleaning up after it), P is GIL-held
Python CPU, C native CPU with the GIL released, W waiting on I/O and L waiting on locks (GIL
waits are left out: they are a cost of the current concurrency, not work). With N workers on K
cores:

- threads:   T(N) = S + max(D/N, P, L, (P + C)/min(N, K), H)  (the GIL serialises P; a lock,
  L; H is how long one lock every thread would share was held, measured in a run that never
  contended it: a serial run's);
- processes: T(N) = S + max(D/N + w/N, L, (P + C + w)/min(N, K), p, (P + C + w + p)/K)
  + N * start + once  (one GIL each); start and once are what the start method costs
  (`START_COSTS`: per process, and once per program for forkserver's server); w and p are
  the pool's measured CPU for pickling, piping and dispatch when the program runs a process
  pool now, or what pickling a thread pool's tasks was estimated to cost in the target when
  it runs threads (`analysis/verdict/shipping.py`; else 0), w in its worker processes (per
  task, so it divides among them like the work) and p in the parent (one process, feeding
  the workers while they work: it bounds the run from below, and takes a core's share);
- a thread pool pays the measured dispatch CPU (futures, queues) as well, when known:
  T(N) += dispatch_s.

Speedup is ``T1 / T(N)``. It is Amdahl's law with the GIL-held share serialised for threads
and a process start-up cost for processes; it assumes the work divides into N equal parts.
The start method charged, and why it was assumed, are in the profile's
``verdict.process_start`` (`verdict.start_method`).
"""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.model import SpeedupPoint

MODEL_TEXT = (
    "Amdahl with the GIL serialised: T1 = S + D, D = P + C + W + L from measured worker time "
    "(S time no worker count divides: the program's imports, its coordinating threads' own "
    "work, and its main thread's own CPU and I/O while no worker worked; P GIL-held CPU, "
    "C native CPU, W I/O wait, L lock wait); "
    "threads T(N) = S + max(D/N, P, L, (P+C)/min(N,K), H), H the hold time of one lock every "
    "thread would share, measured in a serial run; "
    "processes T(N) = S + max(D/N + w/N, L, (P+C+w)/min(N,K), p, (P+C+w+p)/K) + N*start + once, "
    "where start and once are the start method's cost per process and once per program, and "
    "w and p are the measured pool overhead (pickling, piping, dispatch) of a process pool in "
    "use, or the estimated pickling of a thread pool's tasks, in the workers and in the parent; "
    "thread pools pay the measured dispatch share; speedup = T1/T(N)"
)


@dataclass(frozen=True, slots=True)
class StartCost:
    """What starting worker processes costs under one start method."""

    per_process_s: float
    once_s: float = 0.0  # once per program: forkserver starts its server on first use


#: Charged per start method, from bench/process_start.py (medians, Python 3.11, 2 cores;
#: docs/measurement.md "Predicted speedup", "Process start cost"). On a quiet machine (load
#: 0.5): fork 3 ms per process; forkserver 16-19 ms per process plus 45-60 ms once for the
#: server; spawn 49 ms per process with 2 workers, 90 ms with 4 (more interpreters starting
#: than cores). Loaded (load ~6): fork 5-10 ms, forkserver ~120 ms first start, spawn ~330 ms
#: per process. The charges sit at or above the loaded figures: a large parent forks slower,
#: a pool's first task pays its imports, and a spawned child re-imports the main module and
#: everything it imports, which a real program has far more of than the bench's script.
#: fork: 15 ms per process, what a parent of up to ~400 MB costs: a 2-process pool's start,
#: two tasks and shutdown, from a parent of 10, 100 and 400 MB resident (every page touched),
#: took 4.2, 8.8 and 14.4 ms per process (load 1). A higher charge mispredicts short pools:
#: 60 ms would price a 0.5 s compileall -j 2 run's two workers at 0.12 s and predict no gain
#: where 2 workers run 1.38x faster. forkserver: 20 ms per process (its children
#: fork from the small server) and the loaded 120 ms once.
START_COSTS = {
    "fork": StartCost(0.015),
    "forkserver": StartCost(0.02, once_s=0.12),
    "spawn": StartCost(0.33),
}
START_METHODS = tuple(START_COSTS)
#: The predicted curve runs from 1 to this many workers. A stated choice: long
#: enough to show where the curve flattens on the machines profiled; the verdict compares
#: the models at min(max(cores, 2), this) workers.
MAX_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Work:
    python_cpu_s: float
    native_cpu_s: float
    io_s: float
    lock_s: float
    cores: int
    #: Pool overhead paid in the parent (serial, overlapping the workers' work).
    ipc_s: float = 0.0
    free_threaded: bool = False
    dispatch_s: float = 0.0
    #: Pool overhead paid in the worker processes (per task, divided among them).
    ipc_workers_s: float = 0.0
    start_method: str = "fork"  # one of START_METHODS
    #: CPU that no number of workers divides (S), outside the four figures above.
    serial_s: float = 0.0
    #: What starting one worker process was measured to cost (its imports), when worker
    #: processes ran; charged instead of the start method's figure when larger.
    measured_start_s: float = 0.0
    #: How long one lock that every thread would share was held, in a run that never
    #: contended it (a serial run): threads take turns on it, each process has its own.
    shared_lock_hold_s: float = 0.0

    @property
    def divisible_s(self) -> float:
        return self.python_cpu_s + self.native_cpu_s + self.io_s + self.lock_s

    @property
    def total_s(self) -> float:
        return self.serial_s + self.divisible_s


def threads_time(work: Work, n: int) -> float:
    cpu = work.python_cpu_s + work.native_cpu_s
    serial_python = 0.0 if work.free_threaded else work.python_cpu_s
    body = max(
        work.divisible_s / n,
        serial_python,
        work.lock_s,
        cpu / min(n, work.cores),
        work.shared_lock_hold_s,
    )
    return work.serial_s + body + (work.dispatch_s if n > 1 else 0.0)


def processes_time(work: Work, n: int) -> float:
    cpu = work.python_cpu_s + work.native_cpu_s
    if n == 1:
        return work.serial_s + max(work.divisible_s, work.lock_s, cpu)
    in_workers = work.ipc_workers_s
    body = max(
        (work.divisible_s + in_workers) / n,
        work.lock_s,
        (cpu + in_workers) / min(n, work.cores),
        work.ipc_s,
        (cpu + in_workers + work.ipc_s) / work.cores,
    )
    start = START_COSTS.get(work.start_method, START_COSTS["fork"])
    per_process_s = max(start.per_process_s, work.measured_start_s)
    return work.serial_s + body + n * per_process_s + start.once_s


def predict(work: Work, max_workers: int = MAX_WORKERS) -> list[SpeedupPoint]:
    total = work.total_s
    points = []
    for n in range(1, max_workers + 1):
        if total <= 0:
            points.append(SpeedupPoint(n, 1.0, 1.0))
            continue
        points.append(
            SpeedupPoint(
                workers=n,
                threads=total / threads_time(work, n),
                processes=total / processes_time(work, n),
            )
        )
    return points
