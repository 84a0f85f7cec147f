"""Score many small records in a process pool, one task per record (tasks far too small).

Model as written: processes (ProcessPoolExecutor, default chunksize 1). Each task is tens of
microseconds of Python; sending it to a worker process and back costs more than running it.
"""

import sys
from concurrent.futures import ProcessPoolExecutor


def items() -> list[tuple[int, str]]:
    return [(i, f"record-{i}") for i in range(6000)]


def work(record: tuple[int, str]) -> int:
    n, name = record
    return sum(ord(c) * n for c in name) % 1009


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        scores = [work(r) for r in data]
    else:
        with ProcessPoolExecutor(max_workers=2) as pool:
            scores = list(pool.map(work, data))
    print("tiny_tasks", sum(scores))


if __name__ == "__main__":
    main()
