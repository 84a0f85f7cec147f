"""Extract fields from web-server log lines with regular expressions and count status codes.

Model as written: threads (threading.Thread workers over chunks). The re engine holds the GIL.
"""

import re
import sys
import threading
from collections import Counter

LINE = re.compile(
    r"(?P<ip>\d+\.\d+\.\d+\.\d+) - - \[(?P<ts>[^\]]+)\] "
    r'"(?P<method>\w+) (?P<path>\S+) HTTP/1\.\d" (?P<status>\d{3}) (?P<size>\d+)'
)


def items() -> list[list[str]]:
    lines = [
        f"10.0.{i % 256}.{i % 97} - - [10/Oct/2025:13:55:{i % 60:02d} +0000] "
        f'"GET /api/v1/items/{i}?q=x HTTP/1.1" {200 + (i % 5) * 100} {i * 7 % 5000}'
        for i in range(60_000)
    ]
    return [lines[i : i + 5000] for i in range(0, len(lines), 5000)]


def work(chunk: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in chunk * 4:
        m = LINE.match(line)
        if m and re.search(r"/items/\d+", m.group("path")):
            counts[m.group("status")] += 1
    return counts


def main() -> None:
    chunks = items()
    total: Counter[str] = Counter()
    if "--serial" in sys.argv:
        for c in chunks:
            total.update(work(c))
    else:
        results: list[Counter[str]] = []
        lock = threading.Lock()

        def run(part: list[list[str]]) -> None:
            for c in part:
                r = work(c)
                with lock:
                    results.append(r)

        threads = [threading.Thread(target=run, args=(chunks[i::3],)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in results:
            total.update(r)
    print("regex_logs", sorted(total.items()))


if __name__ == "__main__":
    main()
