"""Two threads take the same two locks in opposite order and deadlock.

What it shows: a transfer from account A to B locks A then B, a transfer from B to A locks B
then A; each thread takes its first lock, pauses, and waits forever for the other's. Under
`concdiag profile` the lock tracker finds the wait-for cycle, the target is ended, and the
report names both locks, where each was taken and where each thread waits. Alone it gives up
after 20 s and exits 3 (never 0). The fix: take the locks in one order everywhere.
Expected verdict: bound=deadlock cpu_kind=none recommendation=none
Current model: threading
"""

import os
import sys
import threading
import time

#: Time between taking the first lock and asking for the second: both threads get their first.
PAUSE_S = 0.2
#: Alone (not under concdiag) the script gives up after this long.
GIVE_UP_S = 20.0


class Account:
    def __init__(self, name: str, balance: int) -> None:
        self.name = name
        self.balance = balance
        self.lock = threading.Lock()


def transfer(source: Account, target: Account, amount: int) -> None:
    with source.lock:
        time.sleep(PAUSE_S)  # e.g. a fraud check while holding the source account
        with target.lock:
            source.balance -= amount
            target.balance += amount


def main() -> None:
    a = Account("A", 100)
    b = Account("B", 100)
    threads = [
        threading.Thread(target=transfer, args=(a, b, 10), name="transfer-a-to-b"),
        threading.Thread(target=transfer, args=(b, a, 20), name="transfer-b-to-a"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(GIVE_UP_S)
    if any(t.is_alive() for t in threads):
        print("deadlock: transfers stuck", flush=True)
        os._exit(3)  # the stuck threads would keep the interpreter from exiting
    print(f"deadlock: balances {a.balance} {b.balance}")
    sys.exit(0)


if __name__ == "__main__":
    main()
