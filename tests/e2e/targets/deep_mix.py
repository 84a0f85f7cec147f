"""One thread computes, one sleeps, the main thread joins them; then exits with EXIT_CODE.

Deep mode must name `compute` as computing and `wait_io` as waiting, with call counts.
"""

import os
import sys
import threading
import time


def step(x: int) -> int:
    return (x * 1103515245 + 12345) & 0x7FFFFFFF


def compute() -> None:
    x = 1
    deadline = time.process_time() + 0.4
    while time.process_time() < deadline:
        for _ in range(1000):
            x = step(x)


def wait_io() -> None:
    for _ in range(4):
        time.sleep(0.1)


def main() -> None:
    threads = [
        threading.Thread(target=compute, name="computer"),
        threading.Thread(target=wait_io, name="sleeper"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.exit(int(os.environ.get("EXIT_CODE", "0")))


if __name__ == "__main__":
    main()
