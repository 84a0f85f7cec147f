"""Pure-Python CPU work split over four threads.

What it shows: four threading.Thread workers each run an arithmetic loop written in Python, so every
step needs the GIL; the threads take turns holding it and the run is no faster than serial.
Expected verdict: bound=cpu cpu_kind=python recommendation=multiprocessing
Current model: threading
"""

import threading

THREADS = 4
#: Loop iterations per thread: about 0.5 s each under CPython 3.11, ~2 s for the four together.
ITERATIONS = 2_300_000


def crunch(seed: int, iterations: int) -> int:
    """A linear congruential generator folded into a running sum: plain Python bytecode only."""
    x = seed & 0x7FFFFFFF
    acc = 0
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc


def worker(index: int, results: list[int]) -> None:
    results[index] = crunch(index + 1, ITERATIONS)


def main() -> None:
    results = [0] * THREADS
    threads = [
        threading.Thread(target=worker, args=(i, results), name=f"cpu-worker-{i}")
        for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checksum = 0
    for r in results:
        checksum ^= r
    print(f"cpu_threads: threads={THREADS} checksum={checksum:08x}")


if __name__ == "__main__":
    main()
