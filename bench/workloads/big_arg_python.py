"""Reconcile each store's order table in pure Python: every task is handed a whole table.

Model as written: threads (ThreadPoolExecutor(2)). Each task's argument is one store's full
order table (~200k rows of tuples) and the work on it is pure-Python CPU (~100 ms, GIL-held),
so threads run no faster than a loop; a process pool would first pickle every table in the
parent and unpickle it in a worker, which costs more than the work it spreads.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

#: Stores, one task each: 14 tables, so the work takes ~1.5 s in a loop.
STORES = 14
#: Orders in each store's table: 200k rows pickle in ~0.15 s and unpickle in ~0.07 s against
#: ~0.1 s of work on them, measured on the 2-core bench machine.
ORDERS_PER_STORE = 200_000
#: Distinct SKUs shared by all stores (a catalogue; repeats within a table are memoised
#: by pickle, the per-order note strings are not).
CATALOGUE = 20_000
#: Orders whose quantity is at least this are "bulk" and counted apart (a business rule).
BULK_QTY = 8

Order = tuple[int, str, int, float, str]

_SKUS = [f"sku-{k:05d}-{(k * 7919) % 100_003:06d}" for k in range(CATALOGUE)]


def items() -> list[list[Order]]:
    return [
        [
            (
                store * ORDERS_PER_STORE + i,
                _SKUS[(i * 31 + store * 977) % CATALOGUE],
                1 + (i * 13 + store) % 11,
                ((i * 104_729 + store) % 9_973) / 100,
                f"order {store}-{i}",
            )
            for i in range(ORDERS_PER_STORE)
        ]
        for store in range(STORES)
    ]


def work(orders: list[Order]) -> tuple[int, float, int]:
    """Best-selling SKU's units, revenue (checked by hour) + largest order, bulk orders."""
    revenue: dict[str, float] = {}
    units: dict[str, int] = {}
    largest: dict[str, float] = {}
    by_hour = [0.0] * 24
    bulk = 0
    for order_id, sku, qty, price, _note in orders:
        amount = qty * price
        revenue[sku] = revenue.get(sku, 0.0) + amount
        units[sku] = units.get(sku, 0) + qty
        by_hour[order_id % 24] += amount
        if amount > largest.get(sku, 0.0):
            largest[sku] = amount
        if qty >= BULK_QTY:
            bulk += 1
    total = sum(revenue.values())
    assert abs(total - sum(by_hour)) < 1e-6 * max(total, 1.0)
    return max(units.values()), round(total + max(largest.values()), 2), bulk


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        results = [work(t) for t in data]
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(work, data))
    print("big_arg_python", sum(r[0] for r in results), sum(r[2] for r in results))


if __name__ == "__main__":
    main()
