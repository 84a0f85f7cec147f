"""Calibration: three pure-Python threads share the GIL until a common deadline.

Truth, measured inside each thread: its own CPU clock (``time.thread_time``) and run-queue
delay (its scheduler clock) over its alive time. A pure-Python thread is on a CPU only while
it holds the GIL, so its ``gil_held`` share is at least its CPU share and at most that plus
its time queued for a CPU (pre-empted while holding the GIL); it waits for the GIL in the
rest, less its time queued.
"""

import sys
import threading
import time

from truth import ThreadTruth, write_truth

THREADS = 3
RUN_S = 1.2


def spin(deadline: float, truth: ThreadTruth) -> None:
    with truth:
        x = 1
        while time.monotonic() < deadline:
            for _ in range(2000):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def main() -> None:
    deadline = time.monotonic() + RUN_S
    truths = {f"py-{i}": ThreadTruth() for i in range(THREADS)}
    threads = [
        threading.Thread(target=spin, args=(deadline, truth), name=name)
        for name, truth in truths.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(sys.argv) > 1:
        expected: dict[str, dict[str, float | list[float]]] = {}
        for name, t in truths.items():
            low, high = t.held_range()
            expected[name] = {"gil_held": [low, high], "gil_wait": [1 - high, 1 - low]}
        write_truth(sys.argv[1], expected, truths)


if __name__ == "__main__":
    main()
