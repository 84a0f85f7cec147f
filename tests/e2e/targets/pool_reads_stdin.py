"""Reads its work from standard input, then runs it on a thread pool (whatif must not rerun it)."""

import sys
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    words = sys.stdin.read().split()
    with ThreadPoolExecutor(max_workers=2) as pool:
        lengths = list(pool.map(len, words))
    print(f"pool_reads_stdin: {sum(lengths)} characters")


if __name__ == "__main__":
    main()
