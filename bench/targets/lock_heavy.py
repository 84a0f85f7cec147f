"""A lock-heavy program: four workers share a lock, a queue and an RLock-guarded log.

Each item is ~20 µs of Python work, then a counter update under a shared `threading.Lock`,
a `queue.Queue` hand-off to a collector thread (the queue's own lock and conditions), and
every tenth item a line in a log guarded by an `RLock`: about four lock acquisitions per item,
a few hundred thousand a second in all, nearly all uncontended (the GIL runs one thread at a
time). For bench/lock_overhead.py: the cost of tracking locks on the target's run time.
"""

import queue
import sys
import threading

WORKERS = 4
#: Loop steps of work per item (first argument): 40 gives ~130k acquisitions a second here.
WORK_STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 40
#: About the same run time whatever the work per item.
ITEMS_PER_WORKER = 960_000 // WORK_STEPS


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[int, int] = {}
        self.log_lock = threading.RLock()
        self.log: list[str] = []

    def count(self, key: int) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def note(self, text: str) -> None:
        with self.log_lock:
            self.log.append(text)


def work(seed: int) -> int:
    value = seed
    for _ in range(WORK_STEPS):
        value = (value * 2654435761 + 1) & 0xFFFFFFFF
    return value


def worker(index: int, stats: Stats, results: "queue.Queue[int | None]") -> None:
    for n in range(ITEMS_PER_WORKER):
        value = work(index * ITEMS_PER_WORKER + n)
        stats.count(value & 255)
        results.put(value)
        if n % 10 == 0:
            stats.note(f"{index}:{n}")


def collect(results: "queue.Queue[int | None]", totals: list[int]) -> None:
    while (value := results.get()) is not None:
        totals[0] = (totals[0] + value) & 0xFFFFFFFF


def main() -> None:
    stats = Stats()
    results: queue.Queue[int | None] = queue.Queue()
    totals = [0]
    collector = threading.Thread(target=collect, args=(results, totals), name="collector")
    collector.start()
    workers = [
        threading.Thread(target=worker, args=(i, stats, results), name=f"worker-{i}")
        for i in range(WORKERS)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    results.put(None)
    collector.join()
    print(f"lock_heavy: items={sum(stats.counts.values())} total={totals[0]:08x}")


if __name__ == "__main__":
    main()
