"""Recompute account balances with exact decimal arithmetic (interest, rounding, fees).

Model as written: threads (ThreadPoolExecutor). The C decimal module holds the GIL.
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import ROUND_HALF_EVEN, Decimal, getcontext


def items() -> list[int]:
    return list(range(24))


def work(account: int) -> Decimal:
    getcontext().prec = 28
    balance = Decimal(1000 + account)
    rate = Decimal("0.000137")
    fee = Decimal("0.25")
    cent = Decimal("0.01")
    for day in range(50_000):
        balance += (balance * rate).quantize(cent, rounding=ROUND_HALF_EVEN)
        if day % 30 == 0:
            balance -= fee
    return balance


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        results = [work(a) for a in data]
    else:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(work, data))
    print("decimal_ledger", sum(results))


if __name__ == "__main__":
    main()
