"""Pure-Python CPU work in the main thread that dies half-way with an uncaught exception.

What it shows: about one second of GIL-holding arithmetic in the main thread, then an uncaught
RuntimeError, so the interpreter prints a traceback and exits with status 1; the profile of the
part that did run must still be reported, together with the failed exit.
Expected verdict: bound=cpu cpu_kind=python recommendation=multiprocessing
Current model: serial
"""

ITEMS = 20
#: The crash comes after this many items, i.e. half-way through the planned work.
CRASH_AFTER = 10
#: Loop iterations per item: about 100 ms each under CPython 3.11, ~1 s before the crash.
ITERATIONS_PER_ITEM = 450_000


def process_item(seed: int) -> int:
    """One independent unit of work: an arithmetic loop in plain Python."""
    x = seed & 0x7FFFFFFF
    acc = 0
    for _ in range(ITERATIONS_PER_ITEM):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc


def main() -> None:
    checksum = 0
    for done, item in enumerate(range(1, ITEMS + 1)):
        if done == CRASH_AFTER:
            # The one-line result comes first, so output pass-through can still be checked.
            print(f"crash_halfway: items_done={done} checksum={checksum:08x}", flush=True)
            raise RuntimeError("simulated crash half-way")
        checksum = (checksum * 31 + process_item(item)) & 0xFFFFFFFF
    print(f"crash_halfway: items_done={ITEMS} checksum={checksum:08x}")


if __name__ == "__main__":
    main()
