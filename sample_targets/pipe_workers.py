"""Pure-Python CPU work in worker interpreters of its own making, fed over pipes.

What it shows: no multiprocessing or concurrent.futures here. The program starts two fresh
interpreters with subprocess and talks to each over its stdin and stdout pipes, the way
remote-execution channel libraries do: in the parent a channel thread per worker sends
tasks and blocks reading the results; in each worker a receiver thread blocks reading tasks
while the main thread computes. Most of the threads' time is spent blocked on those pipes,
but every pipe's other end is another process of the same tree: the tree coordinating
itself, not I/O that more threads would overlap. The work is GIL-bound Python in the workers,
which keep both cores busy: processes are the right model, and the program uses them.
Expected verdict: bound=cpu cpu_kind=python recommendation=multiprocessing
Current model: multiprocessing
"""

import subprocess
import sys
import threading

WORKERS = 2
TASKS_PER_WORKER = 12
#: Loop iterations per task: about 70 ms each under CPython 3.11, ~0.9 s per worker.
ITERATIONS_PER_TASK = 320_000

WORKER = """
import queue, sys, threading

def compute(seed, iterations):
    x = seed & 0x7FFFFFFF
    acc = 0
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc

tasks = queue.Queue()

def receive():
    for line in sys.stdin:
        tasks.put(line)
    tasks.put(None)

threading.Thread(target=receive, name="channel-receiver", daemon=True).start()
while True:
    line = tasks.get()
    if line is None:
        break
    seed, iterations = (int(v) for v in line.split())
    sys.stdout.write(f"{compute(seed, iterations)}\\n")
    sys.stdout.flush()
"""


def channel(worker: "subprocess.Popen[str]", seeds: list, results: list) -> None:
    """Send this worker its tasks one at a time and wait for each result."""
    assert worker.stdin is not None and worker.stdout is not None
    for seed in seeds:
        worker.stdin.write(f"{seed} {ITERATIONS_PER_TASK}\n")
        worker.stdin.flush()
        results.append(int(worker.stdout.readline()))
    worker.stdin.close()


def main() -> None:
    # the same tasks on fewer or more workers: `pipe_workers.py 1` is the one-worker baseline
    count = int(sys.argv[1]) if len(sys.argv) > 1 else WORKERS
    tasks = WORKERS * TASKS_PER_WORKER
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    results: list = []
    channels = [
        threading.Thread(
            target=channel,
            args=(w, list(range(i, tasks, count)), results),
            name=f"channel-{i}",
        )
        for i, w in enumerate(workers)
    ]
    for thread in channels:
        thread.start()
    for thread in channels:
        thread.join()
    for worker in workers:
        worker.wait()
    print(f"pipe_workers: tasks={len(results)} checksum={sum(results) & 0xFFFFFFFF:08x}")


if __name__ == "__main__":
    main()
