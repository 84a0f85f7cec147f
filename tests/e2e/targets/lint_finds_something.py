"""A linter's shape: checks files on a thread pool, then exits 1 because it found something.

Exit status 1 is the program's own answer, not a crash: `concdiag whatif` reruns it, and a
rerun is good when it exits 1 too.
"""

import sys
from concurrent.futures import ThreadPoolExecutor


def check(x: int) -> bool:
    return sum(i * x for i in range(30_000)) % 7 == 0


def main() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        findings = sum(pool.map(check, range(16)))
    print(f"lint_finds_something: {findings} findings")
    sys.exit(1)


if __name__ == "__main__":
    main()
