"""An asyncio program whose event loop is held twice: once by a callback computing in Python
(the GIL held), once by a callback calling the blocking ``time.sleep`` (the GIL released).
A ticker task asks the loop for a turn every 10 ms throughout.

Truth, timed by the callbacks themselves and written as JSON to argv[1]: each callback's
duration and the line it spends it at, and the ticker's worst lateness.

    python asyncio_blocking.py TRUTH.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

HOLD_S = 0.3
truth: dict[str, object] = {}


# fmt: off
def crunch() -> None:
    # one line, so every sample of the loop is at the line the truth names
    start, x = time.perf_counter(), 1
    while time.perf_counter() - start < HOLD_S: x = (x * 1103515245 + 12345) & 0x7FFFFFFF  # noqa: E701
    seconds = time.perf_counter() - start
    truth["crunch"] = {"seconds": seconds, "line": crunch.__code__.co_firstlineno + 3}
# fmt: on


def block() -> None:
    start = time.perf_counter()
    time.sleep(HOLD_S)  # a blocking call inside the loop
    truth["block"] = {
        "seconds": time.perf_counter() - start,
        "line": block.__code__.co_firstlineno + 2,
    }


async def ticker(until: float) -> None:
    worst = 0.0
    while time.perf_counter() < until:
        asked = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - asked - 0.01)
    truth["ticker_worst_lateness_s"] = worst


async def main() -> None:
    loop = asyncio.get_running_loop()
    until = time.perf_counter() + 1.6
    tick = asyncio.create_task(ticker(until))
    await asyncio.sleep(0.3)
    loop.call_soon(crunch)
    await asyncio.sleep(0.6)
    loop.call_soon(block)
    await tick


if __name__ == "__main__":
    asyncio.run(main())
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)
    print(f"asyncio_blocking: {json.dumps(truth)}")
