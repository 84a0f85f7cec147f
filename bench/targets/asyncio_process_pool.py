"""black's shape: an asyncio event loop feeding a ProcessPoolExecutor(2) for SECONDS seconds.

    python asyncio_process_pool.py [SECONDS]

The parent's main thread waits in the event loop's selector while two forked workers run
pure-Python tasks. Forked workers keep the parent's pthread ids, which is what made py-spy's
merged trace hard to read back (see concdiag.collectors.pyspy_trace).
"""

import asyncio
import sys
import time
from concurrent.futures import ProcessPoolExecutor

#: Loop iterations per task: a few tens of milliseconds under CPython 3.11.
ITERATIONS = 200_000


def task(seed: int) -> int:
    total = 0
    for i in range(ITERATIONS):
        total = (total + (i * seed) % 7) & 0xFFFF
    return total


async def main(seconds: float) -> None:
    loop = asyncio.get_running_loop()
    end = time.monotonic() + seconds
    done = 0
    with ProcessPoolExecutor(2) as pool:
        while time.monotonic() < end:
            batch = [loop.run_in_executor(pool, task, seed) for seed in range(1, 9)]
            await asyncio.gather(*batch)
            done += len(batch)
    print(f"asyncio_process_pool: {done} tasks in {seconds:g} s")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0))
