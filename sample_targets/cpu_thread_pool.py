"""Pure-Python CPU work on a thread pool, where processes would run it in parallel.

What it shows: a ThreadPoolExecutor(2) maps a pure-Python function over 16 independent items of
~70 ms each; every step needs the GIL, so the two threads take turns and the pool is no faster
than serial. `concdiag whatif` swaps in a ProcessPoolExecutor(2) and measures it faster.
Expected verdict: bound=cpu cpu_kind=python recommendation=multiprocessing
Current model: threading
"""

from concurrent.futures import ThreadPoolExecutor

WORKERS = 2
ITEMS = 16
#: Loop iterations per item: about 70 ms each under CPython 3.11, ~1.1 s for all of them.
ITERATIONS_PER_ITEM = 320_000


def process_item(seed: int) -> int:
    """One independent unit of work: an arithmetic loop in plain Python."""
    x = seed & 0x7FFFFFFF
    acc = 0
    for _ in range(ITERATIONS_PER_ITEM):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc


def main() -> None:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(process_item, range(1, ITEMS + 1)))
    checksum = 0
    for r in results:
        checksum = (checksum * 31 + r) & 0xFFFFFFFF
    print(f"cpu_thread_pool: workers={WORKERS} items={ITEMS} checksum={checksum:08x}")


if __name__ == "__main__":
    main()
