"""Twelve threads queue on one hot lock around a shared compressor: a lock convoy.

What it shows: every worker appends records to one shared compressed log; a `zlib` compressor
cannot be used by two threads at once, so one `threading.Lock` guards it. Compressing a record
takes under a millisecond with the GIL released, which lets the other threads run straight
into the lock and queue: nearly all of them are waiting at any moment. The fix is to take the
lock less often: each worker compresses its own records and the compressed pieces are joined
once at the end (gzip members concatenate); workers then compress in parallel (README.md).
Expected verdict: bound=sync cpu_kind=none recommendation=multiprocessing
Current model: threading
"""

import threading
import zlib

THREADS = 12
RECORDS_PER_THREAD = 60
#: Fields per record: ~48 KB of text, a fraction of a millisecond to compress.
FIELDS = 24_000


class CompressedLog:
    """One compressed stream for every worker: the hot lock guards the compressor."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip format
        self.pieces: list[bytes] = []

    def append(self, record: bytes) -> None:
        with self.lock:
            self.pieces.append(self.compressor.compress(record))

    def close(self) -> bytes:
        with self.lock:
            self.pieces.append(self.compressor.flush())
            return b"".join(self.pieces)


def record(worker: int, n: int) -> bytes:
    return b"%d,%d," % (worker, n) + b"%07d;" % (worker * n) * FIELDS


def worker(log: CompressedLog, index: int) -> None:
    for n in range(RECORDS_PER_THREAD):
        log.append(record(index, n))


def main() -> None:
    log = CompressedLog()
    threads = [
        threading.Thread(target=worker, args=(log, i), name=f"writer-{i}") for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    data = log.close()
    ok = len(zlib.decompress(data, 31)) > 0
    print(f"lock_convoy: records={THREADS * RECORDS_PER_THREAD} gzip_ok={ok}")


if __name__ == "__main__":
    main()
