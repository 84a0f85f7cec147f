"""Summarise large in-memory tables in a process pool: each task ships a whole table.

Model as written: processes (ProcessPoolExecutor). Each table is ~100k rows of tuples;
pickling it to the worker costs more than the light summary computed on it.
"""

import sys
from concurrent.futures import ProcessPoolExecutor


def items() -> list[list[tuple[int, str, float]]]:
    return [[(i, f"sku-{i % 5000}", i * 0.25) for i in range(100_000)] for _ in range(10)]


def work(table: list[tuple[int, str, float]]) -> float:
    return max(row[2] for row in table[::4]) + len(table)


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        results = [work(t) for t in data]
    else:
        with ProcessPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(work, data))
    print("big_args", sum(results))


if __name__ == "__main__":
    main()
