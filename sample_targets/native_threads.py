"""Native CPU work that releases the GIL, in four threads.

What it shows: four threads hash large in-memory buffers with hashlib.sha256 and compress slices
of them with zlib; both run in C with the GIL released, so the threads really run in parallel and
use every core without leaving the process.
Expected verdict: bound=cpu cpu_kind=native recommendation=threading
Current model: threading
"""

import hashlib
import random
import threading
import zlib

THREADS = 4
BUFFER_BYTES = 32 * 1024 * 1024
#: sha256 passes over the whole buffer per thread (each ~30 ms with SHA extensions).
HASH_ROUNDS = 28
#: zlib.compress of a 256 KiB slice of the buffer after each hash pass (~8 ms).
COMPRESS_BYTES = 256 * 1024


def make_buffer() -> bytes:
    """32 MiB built in ~30 ms: 1 MiB of seeded pseudo-random bytes, repeated."""
    block = random.Random(20240611).randbytes(1024 * 1024)
    return block * (BUFFER_BYTES // len(block))


def worker(index: int, data: bytes, results: list[str]) -> None:
    view = memoryview(data)
    digest = hashlib.sha256()
    compressed = 0
    for round_no in range(HASH_ROUNDS):
        h = hashlib.sha256()
        h.update(view)  # 32 MiB in one call: the GIL is released while OpenSSL hashes it
        digest.update(h.digest())
        start = ((index * HASH_ROUNDS + round_no) * 4096) % (BUFFER_BYTES - COMPRESS_BYTES)
        compressed += len(zlib.compress(view[start : start + COMPRESS_BYTES], 1))
    results[index] = f"{digest.hexdigest()[:16]}:{compressed}"


def main() -> None:
    data = make_buffer()
    results = [""] * THREADS
    threads = [
        threading.Thread(target=worker, args=(i, data, results), name=f"native-worker-{i}")
        for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    combined = hashlib.sha256("|".join(results).encode()).hexdigest()[:16]
    print(f"native_threads: threads={THREADS} rounds={HASH_ROUNDS} digest={combined}")


if __name__ == "__main__":
    main()
