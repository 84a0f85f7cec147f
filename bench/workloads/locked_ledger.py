"""Post transactions to a shared ledger file, each under an exclusive file lock.

Model as written: threads (ThreadPoolExecutor). Every posting takes the ledger's lock
(fcntl.flock, so it also serialises processes) and keeps it across a slow validation step
(15 ms, standing in for a remote check) before appending: the lock serialises everything.
"""

import fcntl
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

LEDGER = os.path.join(tempfile.gettempdir(), f"concdiag-ledger-{os.getpid()}.txt")


def items() -> list[int]:
    return list(range(60))


def work(txn: int) -> int:
    amount = sum(i * txn for i in range(2000)) % 1000
    with open(LEDGER, "a") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)
        try:
            time.sleep(0.015)  # validate against the current balance while holding the lock
            ledger.write(f"{txn} {amount}\n")
        finally:
            fcntl.flock(ledger, fcntl.LOCK_UN)
    return amount


def main() -> None:
    data = items()
    try:
        if "--serial" in sys.argv:
            results = [work(t) for t in data]
        else:
            with ThreadPoolExecutor(max_workers=4) as pool:
                results = list(pool.map(work, data))
    finally:
        if os.path.exists(LEDGER):
            os.unlink(LEDGER)
    print("locked_ledger", sum(results))


if __name__ == "__main__":
    main()
