"""Checksum a batch of large blobs with SHA-256 and BLAKE2b (content-addressed storage).

Model as written: processes (ProcessPoolExecutor). hashlib releases the GIL on large
buffers, so the CPU work is native and threads could run it in parallel.
"""

import hashlib
import sys
from concurrent.futures import ProcessPoolExecutor

BASE = bytes(range(256)) * 4096  # 1 MiB


def items() -> list[tuple[str, int]]:
    return [(f"blob-{i}", 8) for i in range(16)]


def work(item: tuple[str, int]) -> str:
    name, mebibytes = item
    blob = name.encode() + BASE * mebibytes
    digest = hashlib.sha256(blob).hexdigest()
    digest += hashlib.sha512(blob).hexdigest()[:8]
    return digest + hashlib.blake2b(blob).hexdigest()[:8]


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        results = [work(i) for i in data]
    else:
        with ProcessPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(work, data))
    print("hash_blobs", len(set(results)))


if __name__ == "__main__":
    main()
