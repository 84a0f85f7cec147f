"""Calibration: one thread hashes 32 MiB buffers (GIL released) beside a pure-Python thread.

Truth, measured inside each thread: its own CPU clock (``time.thread_time``) over its alive
time. The hasher runs SHA-256 with the GIL released for most of its life, and waits to get the
GIL back after each call (the Python thread holds it until the switch interval forces a
switch); its CPU clock is what ``native`` must match. The Python thread's ``gil_held`` must
cover its CPU clock, and may exceed it by its time queued for a CPU (pre-empted holding it).
The default switch interval, as a program would run.
"""

import hashlib
import sys
import threading
import time

from gil_threads import spin
from truth import ThreadTruth, write_truth

RUN_S = 3.0
BUFFER = bytes(range(256)) * (32 * 4096)  # 32 MiB: ~40-80 ms of SHA-256 per call


def hasher(deadline: float, truth: ThreadTruth) -> None:
    with truth:
        h = hashlib.sha256()
        while time.monotonic() < deadline:
            h.update(BUFFER)


def main() -> None:
    deadline = time.monotonic() + RUN_S
    truths = {"hasher": ThreadTruth(), "python": ThreadTruth()}
    threads = [
        threading.Thread(target=hasher, args=(deadline, truths["hasher"]), name="hasher"),
        threading.Thread(target=spin, args=(deadline, truths["python"]), name="python"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(sys.argv) > 1:
        write_truth(
            sys.argv[1],
            {
                "hasher": {"native": truths["hasher"].cpu_share()},
                "python": {"gil_held": truths["python"].held_range()},
            },
            truths,
        )


if __name__ == "__main__":
    main()
