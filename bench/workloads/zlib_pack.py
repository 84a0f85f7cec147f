"""Compress log segments with zlib before shipping them (deflate releases the GIL).

Model as written: threads (ThreadPoolExecutor).
"""

import sys
import zlib
from concurrent.futures import ThreadPoolExecutor


def items() -> list[bytes]:
    text = b"".join(
        b"2025-10-10T13:55:%02d INFO request id=%d path=/api/items status=200\n" % (i % 60, i)
        for i in range(40_000)
    )
    return [text[i:] + text[:i] for i in range(0, 16 * 1000, 1000)]


def work(segment: bytes) -> int:
    return len(zlib.compress(segment, 9))


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        sizes = [work(s) for s in data]
    else:
        with ThreadPoolExecutor(max_workers=4) as pool:
            sizes = list(pool.map(work, data))
    print("zlib_pack", sum(sizes))


if __name__ == "__main__":
    main()
