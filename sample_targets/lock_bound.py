"""Four threads serialised on one shared lock held across a slow section.

What it shows: each thread prepares an entry (a fraction of a millisecond of work), then takes
the one shared threading.Lock and keeps it across a 20 ms blocking call, so only one thread makes
progress at a time and the others spend ~3/4 of their time waiting on the lock; more threads or
processes would not help, only a narrower critical section would.
Expected verdict: bound=sync cpu_kind=none recommendation=serial
Current model: threading
"""

import threading
import time

THREADS = 4
ROUNDS_PER_THREAD = 24
#: Time spent inside the lock per round; 4 x 24 rounds make ~2 s, one holder at a time.
HOLD_S = 0.02
#: Loop steps of the tiny preparation done outside the lock (~0.1 ms).
PREPARE_STEPS = 1_000


class Ledger:
    """Shared state guarded by one lock, with a slow step (e.g. a flush) inside the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[int] = []
        self.total = 0

    def record(self, value: int) -> None:
        with self.lock:
            time.sleep(HOLD_S)  # the slow section, done while holding the lock
            self.entries.append(value)
            self.total = (self.total + value) & 0xFFFFFFFF


def prepare(thread_index: int, round_no: int) -> int:
    """A fraction of a millisecond of work outside the lock, so the threads take turns."""
    value = thread_index * 1_000 + round_no
    for _ in range(PREPARE_STEPS):
        value = (value * 2654435761 + 1) & 0xFFFFFFFF
    return value


def worker(ledger: Ledger, index: int) -> None:
    for round_no in range(ROUNDS_PER_THREAD):
        ledger.record(prepare(index, round_no))


def main() -> None:
    ledger = Ledger()
    threads = [
        threading.Thread(target=worker, args=(ledger, i), name=f"ledger-writer-{i}")
        for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"lock_bound: entries={len(ledger.entries)} total={ledger.total:08x}")


if __name__ == "__main__":
    main()
