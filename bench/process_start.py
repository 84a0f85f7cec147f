"""The cost of starting a process pool vs a thread pool, measured side by side.

It times, in interleaved repetitions, creating a pool of N workers, running N trivial tasks
(so every worker has started) and shutting it down, for ThreadPoolExecutor and
ProcessPoolExecutor (``--method``, default the platform's start method), and prints the
medians and the per-process start cost: (process pool - thread pool) / N, over the
repetitions after the first. The first process pool is printed apart: under forkserver it
also starts the server, once per program. concdiag's speedup model charges these figures by
start method (``speedup.START_COSTS``); run this on your machine to check them. A spawned
child re-imports the parent's main module, so a program with heavy imports pays more per
process than this small script.

Usage: python bench/process_start.py [--workers 2] [--reps 7] [--method fork|spawn|forkserver]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def noop(x: int) -> int:
    return x


def once(workers: int, method: str | None) -> float:
    start = time.perf_counter()
    if method is None:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(noop, range(workers)))
    else:
        context = multiprocessing.get_context(method)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as processes:
            list(processes.map(noop, range(workers)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--method", default=multiprocessing.get_start_method())
    args = parser.parse_args()
    threads: list[float] = []
    processes: list[float] = []
    for _ in range(args.reps + 1):
        threads.append(once(args.workers, None))
        processes.append(once(args.workers, args.method))
    first = processes.pop(0)
    threads.pop(0)
    t = statistics.median(threads)
    p = statistics.median(processes)
    print(
        f"workers={args.workers} reps={args.reps} start method={args.method} "
        f"load={os.getloadavg()[0]:.2f}"
    )
    print(f"thread pool:  {1000 * t:.1f} ms (median)")
    print(f"process pool: {1000 * p:.1f} ms (median), {p / t:.0f}x the thread pool")
    print(f"first process pool: {1000 * first:.1f} ms ({1000 * (first - p):.1f} ms above the rest)")
    print(f"per-process start cost: {1000 * (p - t) / args.workers:.1f} ms")


if __name__ == "__main__":
    main()
