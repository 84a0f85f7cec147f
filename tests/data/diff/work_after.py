"""Fixture for `concdiag diff` tests: independent pure-Python work items on a thread pool (HEAD).

Recorded once as the BASE profile; the HEAD version (work_after.py) moves the same items onto
a thread pool, the change a pull request might make to "avoid pickling".
"""

from concurrent.futures import ThreadPoolExecutor

ITEMS = 8
ITERATIONS = 1_000_000


def item(seed: int) -> int:
    x, acc = seed, 0
    for _ in range(ITERATIONS):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    return acc


def main() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        total = sum(pool.map(item, range(1, ITEMS + 1)))
    print(f"work: {total:08x}")


if __name__ == "__main__":
    main()
