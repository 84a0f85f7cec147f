"""Look up each customer's account on a remote JSON API, one call at a time, and total a field.

Model as written: serial (a plain for loop over the customers). Each call stands for an HTTP
round trip to a remote service: its ``time.sleep`` is the network latency of that round trip
(the service answers concurrent calls just as fast: latency, not rate limiting), after which
the reply, a small JSON document, is parsed and summed in Python (a few ms, GIL-held).
"""

from __future__ import annotations

import json
import sys
import time

#: One API round trip, in seconds: 80 ms, a typical cross-region HTTPS call.
ROUND_TRIP_S = 0.08
#: Customers looked up: 30 calls make ~2.5 s in a loop (and ~1.3 s on two threads).
CUSTOMERS = 30
#: Invoices in each reply: 1000 make the reply, its decode and the sum ~2-3 ms per call,
#: measured on the 2-core bench machine (small next to the round trip, by design).
INVOICES_PER_REPLY = 1000


def _remote_reply(customer: int) -> str:
    """What the remote service sends back for ``customer`` (its JSON body)."""
    invoices = [
        {"id": f"{customer}-{n}", "amount_cents": (customer * 7919 + n * 104_729) % 50_000}
        for n in range(INVOICES_PER_REPLY)
    ]
    return json.dumps({"customer": customer, "currency": "EUR", "invoices": invoices})


def call_api(customer: int) -> str:
    """GET /accounts/<customer>: wait out the round trip, return the body."""
    body = _remote_reply(customer)
    time.sleep(ROUND_TRIP_S)  # network latency of the round trip (not a rate limit)
    return body


def items() -> list[int]:
    return list(range(CUSTOMERS))


def work(customer: int) -> int:
    account = json.loads(call_api(customer))
    return sum(int(invoice["amount_cents"]) for invoice in account["invoices"])


def main() -> None:
    data = items()
    # As written: one call after another (the same with --serial).
    results = [work(c) for c in data]
    print("latency_sleep", sum(results), "--serial" in sys.argv)


if __name__ == "__main__":
    main()
