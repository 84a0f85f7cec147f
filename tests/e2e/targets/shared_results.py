"""Tasks that report through a module-level list: threads share it, processes do not.

Under processes the workers append to their own copies and the parent prints 0: the
alternative "runs" but gives another answer, which whatif must say instead of timing it.
"""

from concurrent.futures import ThreadPoolExecutor

RESULTS: list[int] = []


def work(x: int) -> None:
    RESULTS.append(sum(i * x for i in range(20_000)))


def main() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(work, range(8)))
    print(f"shared_results: {len(RESULTS)} results")


if __name__ == "__main__":
    main()
