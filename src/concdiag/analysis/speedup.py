"""Predicted speedup for N workers under threads and under processes.

The model (stated in every profile as ``verdict.speedup_model``): take the measured worker
time as the serial work ``T1 = P + C + W + L`` where P is GIL-held Python CPU, C native CPU
with the GIL released, W waiting on I/O and L waiting on locks (GIL waits are left out: they
are a cost of the current concurrency, not work). With N workers on K cores:

- threads:   T(N) = max(T1/N, P, L, (P + C)/min(N, K))  (the GIL serialises P; a lock, L);
- processes: T(N) = max(T1/N + w/N, L, (P + C + w)/min(N, K), p, (P + C + w + p)/K)
  + N * start_s  (one GIL each); w and p are the pool's measured CPU for pickling, piping and
  dispatch when the program runs a process pool now (else 0), w in its worker processes
  (per task, so it divides among them like the work) and p in the parent (one process,
  feeding the workers while they work: it bounds the run from below, and takes a core's share);
- a thread pool pays the measured dispatch CPU (futures, queues) as well, when known:
  T(N) += dispatch_s.

Speedup is ``T1 / T(N)``. It is Amdahl's law with the GIL-held share serialised for threads
and a process start-up cost for processes; it assumes the work divides into N equal parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.model import SpeedupPoint

MODEL_TEXT = (
    "Amdahl with the GIL serialised: T1 = P + C + W + L from measured worker time "
    "(P GIL-held CPU, C native CPU, W I/O wait, L lock wait); "
    "threads T(N) = max(T1/N, P, L, (P+C)/min(N,K)); "
    "processes T(N) = max(T1/N + w/N, L, (P+C+w)/min(N,K), p, (P+C+w+p)/K) + N*start, where "
    "w and p are the measured pool overhead (pickling, piping, dispatch) of a process pool in "
    "use, in its workers and in the parent; "
    "thread pools pay the measured dispatch share; speedup = T1/T(N)"
)
#: Per-process start cost. bench/process_start.py measured, on a loaded 2-core machine
#: (2026-11-26, load ~6): fork 5-10 ms, forkserver ~120 ms, spawn ~330 ms per process. The
#: default start method of 3.10-3.13 on Linux is fork; a large parent forks slower and a pool's
#: first task pays its imports, so 60 ms is a conservative middle (docs/measurement.md).
PROCESS_START_S = 0.06
#: The predicted curve runs from 1 to this many workers. A stated choice (b4ac13d): long
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

    @property
    def total_s(self) -> float:
        return self.python_cpu_s + self.native_cpu_s + self.io_s + self.lock_s


def threads_time(work: Work, n: int) -> float:
    cpu = work.python_cpu_s + work.native_cpu_s
    serial_python = 0.0 if work.free_threaded else work.python_cpu_s
    body = max(work.total_s / n, serial_python, work.lock_s, cpu / min(n, work.cores))
    return body + (work.dispatch_s if n > 1 else 0.0)


def processes_time(work: Work, n: int, start_s: float = PROCESS_START_S) -> float:
    cpu = work.python_cpu_s + work.native_cpu_s
    if n == 1:
        return max(work.total_s, work.lock_s, cpu)
    in_workers = work.ipc_workers_s
    body = max(
        (work.total_s + in_workers) / n,
        work.lock_s,
        (cpu + in_workers) / min(n, work.cores),
        work.ipc_s,
        (cpu + in_workers + work.ipc_s) / work.cores,
    )
    return body + n * start_s


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
