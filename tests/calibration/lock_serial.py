"""Calibration: three threads serialised on one lock held across a 20 ms sleep.

Truth, measured inside each thread: its time asleep holding the lock (I/O state) and waiting
to acquire it (sync state), over its alive time.
"""

import sys
import threading
import time

from truth import ThreadTruth, write_truth

THREADS = 3
RUN_S = 1.2
HOLD_S = 0.02


def worker(lock: threading.Lock, deadline: float, truth: ThreadTruth) -> None:
    with truth:
        while time.monotonic() < deadline:
            with truth.waiting("sync"):
                lock.acquire()
            try:
                with truth.waiting("io"):
                    time.sleep(HOLD_S)
            finally:
                lock.release()
            time.sleep(0)  # let a waiter in: CPython locks are not fair


def main() -> None:
    lock = threading.Lock()
    deadline = time.monotonic() + RUN_S
    truths = {f"locker-{i}": ThreadTruth() for i in range(THREADS)}
    threads = [
        threading.Thread(target=worker, args=(lock, deadline, truth), name=name)
        for name, truth in truths.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(sys.argv) > 1:
        expected = {
            name: {"io": t.wait_share("io"), "sync": t.wait_share("sync")}
            for name, t in truths.items()
        }
        write_truth(sys.argv[1], expected, truths)


if __name__ == "__main__":
    main()
