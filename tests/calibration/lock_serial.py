"""Calibration: three threads serialised on one lock held across a 20 ms sleep.

Truth, measured inside the target: each thread's time holding the lock (asleep inside it: I/O
state) and waiting to acquire it (sync state), over its alive time.
"""

import json
import sys
import threading
import time

THREADS = 3
RUN_S = 1.2
HOLD_S = 0.02


def worker(
    lock: threading.Lock, deadline: float, name: str, out: dict[str, dict[str, float]]
) -> None:
    began = time.perf_counter()
    waiting = holding = 0.0
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        with lock:
            t1 = time.perf_counter()
            time.sleep(HOLD_S)
            t2 = time.perf_counter()
        waiting += t1 - t0
        holding += t2 - t1
        time.sleep(0)  # let a waiter in: CPython locks are not fair
    alive = time.perf_counter() - began
    out[name] = {"io": holding / alive, "sync": waiting / alive}


def main() -> None:
    lock = threading.Lock()
    deadline = time.monotonic() + RUN_S
    measured: dict[str, dict[str, float]] = {}
    threads = [
        threading.Thread(
            target=worker, args=(lock, deadline, f"locker-{i}", measured), name=f"locker-{i}"
        )
        for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as out:
            json.dump(measured, out)


if __name__ == "__main__":
    main()
