"""An asyncio program whose time goes to slow awaits, beside a little computation.

Deep mode must name `slow_fetch` as awaiting (about 0.6 s suspended per call) and `checksum`
as computing.
"""

import asyncio


def checksum(n: int) -> int:
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    return acc


async def slow_fetch(delay_s: float) -> int:
    await asyncio.sleep(delay_s)
    return 1


async def crunch() -> int:
    total = 0
    for _ in range(4):
        total = (total + checksum(150_000)) & 0xFFFFFFFF
        await asyncio.sleep(0)
    return total


async def main() -> None:
    results = await asyncio.gather(slow_fetch(0.6), slow_fetch(0.6), crunch())
    print(f"asyncio_awaits: {results[0] + results[1]} fetched, checksum {results[2]:08x}")


if __name__ == "__main__":
    asyncio.run(main())
