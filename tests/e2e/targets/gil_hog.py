"""One thread holds the GIL in a pure-Python loop for the whole run; two others wake every
2 ms to do a sliver of Python work, and each wake waits for the hog to hand the GIL over.

Truth, recorded by the waiting threads themselves and written as JSON to argv[1]: how long
each waited for the GIL. A wake's wait is how late ``time.sleep`` returned past its usual
lateness (measured before the hog starts), plus the sliver's wall time beyond its own CPU
time. Also written: each thread's native id, and the line the hog loops on.

    python gil_hog.py TRUTH.json [SECONDS]
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time

SLEEP_S = 0.002
SLIVER_ITERATIONS = 200


# fmt: off
def hog(until: float) -> None:
    # one line, so every sample of the loop is at the line the truth names
    x = 1
    while time.perf_counter() < until: x = (x * 1103515245 + 12345) & 0x7FFFFFFF  # noqa: E701
# fmt: on


def sliver() -> int:
    acc = 0
    for i in range(SLIVER_ITERATIONS):
        acc += i * i
    return acc


def usual_lateness() -> float:
    """How late a 2 ms sleep returns with nobody holding the GIL."""
    late = []
    for _ in range(200):
        t0 = time.perf_counter()
        time.sleep(SLEEP_S)
        late.append(time.perf_counter() - t0 - SLEEP_S)
    return statistics.median(late)


def nibble(until: float, lateness: float, waits: dict[str, float]) -> None:
    waited = 0.0
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        time.sleep(SLEEP_S)
        woke = time.perf_counter()
        waited += max(0.0, woke - t0 - SLEEP_S - lateness)
        c0 = time.thread_time()
        sliver()
        waited += max(0.0, (time.perf_counter() - woke) - (time.thread_time() - c0))
    waits[threading.current_thread().name] = waited


def main() -> None:
    truth_path = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    lateness = usual_lateness()
    until = time.perf_counter() + seconds
    waits: dict[str, float] = {}
    threads = [threading.Thread(target=hog, args=(until,), name="hog")]
    threads += [
        threading.Thread(target=nibble, args=(until, lateness, waits), name=f"nibbler-{i}")
        for i in range(2)
    ]
    for t in threads:
        t.start()
    ids = {t.name: t.native_id for t in threads}
    for t in threads:
        t.join()
    hog_line = hog.__code__.co_firstlineno + 3
    with open(truth_path, "w") as f:
        json.dump({"waits_s": waits, "native_ids": ids, "hog_line": hog_line}, f)
    print(
        f"gil_hog: nibblers waited {sum(waits.values()):.2f} s (lateness {lateness * 1e6:.0f} us)"
    )


if __name__ == "__main__":
    main()
