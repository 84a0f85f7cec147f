"""Calibration: one thread hashes large buffers (GIL released) beside a pure-Python thread.

Truth, measured inside the target: the hasher's share of time inside ``update()`` on 64 MiB
buffers (native code, GIL released; wall time, so it also
holds the GIL re-acquisition at the end of each call, at most one switch interval plus a
scheduling delay per ~70 ms call) and, for the Python thread, the complement of the
hasher's time outside ``update()`` (when the hasher holds or waits for the GIL). A short
switch interval keeps the hasher's GIL re-acquisition after each call negligible.
"""

import hashlib
import json
import sys
import threading
import time

RUN_S = 1.2
BUFFER = bytes(range(256)) * (64 * 4096)  # 64 MiB: ~70 ms of SHA-256 per call


def hasher(deadline: float, out: dict[str, float]) -> None:
    began = time.perf_counter()
    inside = 0.0
    h = hashlib.sha256()
    while time.monotonic() < deadline:
        t = time.perf_counter()
        h.update(BUFFER)
        inside += time.perf_counter() - t
    alive = time.perf_counter() - began
    out["native"] = inside / alive
    out["outside"] = 1 - inside / alive


def python(deadline: float) -> None:
    x = 1
    while time.monotonic() < deadline:
        for _ in range(2000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def main() -> None:
    sys.setswitchinterval(0.0005)
    deadline = time.monotonic() + RUN_S
    measured: dict[str, float] = {}
    threads = [
        threading.Thread(target=hasher, args=(deadline, measured), name="hasher"),
        threading.Thread(target=python, args=(deadline,), name="python"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(sys.argv) > 1:
        truth = {
            "hasher": {"native": measured["native"]},
            "python": {"gil_held": 1 - measured["outside"]},
        }
        with open(sys.argv[1], "w") as out:
            json.dump(truth, out)


if __name__ == "__main__":
    main()
