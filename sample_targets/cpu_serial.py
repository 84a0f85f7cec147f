"""Pure-Python CPU work done serially, one item after another.

What it shows: the main thread calls a pure-Python work function on a list of independent items,
each about 100 ms of GIL-holding bytecode, so a process pool would divide the run by the number of
cores and the per-item work is large enough to repay process start-up and pickling.
Expected verdict: bound=cpu cpu_kind=python recommendation=multiprocessing
Current model: serial
"""

ITEMS = 20
#: Loop iterations per item: about 110 ms each under CPython 3.11, ~2 s for all items.
ITERATIONS_PER_ITEM = 460_000


def process_item(seed: int) -> int:
    """One independent unit of work: an arithmetic loop in plain Python."""
    x = seed & 0x7FFFFFFF
    acc = 0
    for _ in range(ITERATIONS_PER_ITEM):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc


def main() -> None:
    items = list(range(1, ITEMS + 1))
    results = [process_item(item) for item in items]
    checksum = 0
    for r in results:
        checksum = (checksum * 31 + r) & 0xFFFFFFFF
    print(f"cpu_serial: items={ITEMS} checksum={checksum:08x}")


if __name__ == "__main__":
    main()
