"""A thread pool running a local function: fine on threads, cannot be pickled for processes.

Under `concdiag whatif` the process-pool alternative fails on the `submit` line below, which
must come back as a finding (the error and that line), not as a crash.
"""

from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    def scale(x: int) -> int:  # a local function: processes cannot unpickle it
        return sum(i * x for i in range(20_000))

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(scale, n) for n in range(8)]  # the submitting line
        total = sum(f.result() for f in futures)
    print(f"unpicklable_task: total={total}")


if __name__ == "__main__":
    main()
