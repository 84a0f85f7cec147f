"""Calibration: three pure-Python threads share the GIL until a common deadline.

Truth by construction: each thread is alive for the same span and needs the GIL for every
step, so together they hold it all the time, each about 1/3 of its alive time, and wait for
it the rest. The interpreter does not divide it evenly, so the truth per thread is its share
of the work done (blocks of identical bytecode), which is its share of GIL-held time.
"""

import sys
import threading
import time

THREADS = 3
RUN_S = 1.2


def spin(deadline: float) -> int:
    x = 1
    blocks = 0
    while time.monotonic() < deadline:
        for _ in range(2000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        blocks += 1
    return blocks


def main() -> None:
    deadline = time.monotonic() + RUN_S
    work: dict[str, int] = {}

    def worker(name: str) -> None:
        work[name] = spin(deadline)

    threads = [
        threading.Thread(target=worker, args=(f"py-{i}",), name=f"py-{i}") for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(sys.argv) > 1:
        import json

        # The GIL is held all the time by one of them: each holds its share of the work done.
        total = sum(work.values())
        truth = {n: {"gil_held": w / total, "gil_wait": 1 - w / total} for n, w in work.items()}
        with open(sys.argv[1], "w") as out:
            json.dump(truth, out)


if __name__ == "__main__":
    main()
