"""Normalise a batch of JSON API responses: parse, reshape each record, serialise again.

Model as written: threads (ThreadPoolExecutor). json's C accelerator holds the GIL, and the
reshaping is plain Python, so the work is GIL-held CPU.
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor


def items() -> list[str]:
    docs = []
    for n in range(40):
        records = [
            {"id": n * 1000 + i, "name": f"user{i}", "tags": ["a", "b", str(i)], "score": i * 0.5}
            for i in range(600)
        ]
        docs.append(json.dumps({"page": n, "records": records}))
    return docs


def work(doc: str) -> int:
    total = 0
    for _ in range(12):
        data = json.loads(doc)
        out = []
        for rec in data["records"]:
            out.append(
                {"key": f"{rec['id']}:{rec['name']}", "n": len(rec["tags"]), "s": rec["score"]}
            )
        total += len(json.dumps(out))
    return total


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        results = [work(d) for d in data]
    else:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(work, data))
    print("json_roundtrip", sum(results))


if __name__ == "__main__":
    main()
