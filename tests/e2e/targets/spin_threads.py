"""Pure-Python CPU work in three threads for SECONDS (argv[1], default 30), for attach tests."""

import sys
import threading
import time


def spin(deadline: float) -> None:
    x = 0
    while time.monotonic() < deadline:
        for _ in range(2000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF


deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 30)
workers = [threading.Thread(target=spin, args=(deadline,), name=f"spin-{i}") for i in range(3)]
for w in workers:
    w.start()
for w in workers:
    w.join()
