"""Pure-Python CPU work mapped over a pool of two worker processes.

What it shows: a multiprocessing.Pool(2) maps a pure-Python work function over independent items
of ~150 ms each; every worker process has its own interpreter and GIL, so both cores are busy and
the run takes about half the serial time, which is already the right model for this workload.
Expected verdict: bound=cpu cpu_kind=python recommendation=multiprocessing
Current model: multiprocessing
"""

import multiprocessing

WORKERS = 2
ITEMS = 24
#: Loop iterations per item: about 150 ms each under CPython 3.11, ~1.8 s over two processes.
ITERATIONS_PER_ITEM = 680_000


def process_item(seed: int) -> int:
    """One independent unit of work: an arithmetic loop in plain Python."""
    x = seed & 0x7FFFFFFF
    acc = 0
    for _ in range(ITERATIONS_PER_ITEM):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc


def main() -> None:
    items = list(range(1, ITEMS + 1))
    with multiprocessing.Pool(WORKERS) as pool:
        results = pool.map(process_item, items, chunksize=1)
    checksum = 0
    for r in results:
        checksum = (checksum * 31 + r) & 0xFFFFFFFF
    print(f"process_pool: workers={WORKERS} items={ITEMS} checksum={checksum:08x}")


if __name__ == "__main__":
    main()
