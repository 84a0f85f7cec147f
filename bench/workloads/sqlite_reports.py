"""Run aggregate report queries, each on its own SQLite database connection.

Model as written: threads (ThreadPoolExecutor). sqlite3 releases the GIL while a statement
runs, so the query work is native and runs in parallel on threads.
"""

import sqlite3
import sys
from concurrent.futures import ThreadPoolExecutor

QUERY = """
WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?)
SELECT sum((x * ?) % 97), count(*) FROM seq WHERE x % 3 != 0
"""


def items() -> list[int]:
    return list(range(1, 13))


def work(report: int) -> int:
    conn = sqlite3.connect(":memory:")
    try:
        total, _count = conn.execute(QUERY, (250_000, report)).fetchone()
        return int(total)
    finally:
        conn.close()


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        results = [work(r) for r in data]
    else:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(work, data))
    print("sqlite_reports", sum(results))


if __name__ == "__main__":
    main()
