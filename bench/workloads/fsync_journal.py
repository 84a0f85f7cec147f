"""Write durable journal segments: each record is appended and fsync'ed before the next.

Model as written: threads (threading.Thread per batch of segments).
"""

import os
import sys
import tempfile
import threading

DIRECTORY = tempfile.gettempdir()


def items() -> list[int]:
    return list(range(24))


def work(segment: int) -> int:
    path = os.path.join(
        DIRECTORY, f"concdiag-journal-{os.getpid()}-{threading.get_ident()}-{segment}.log"
    )
    record = (b"%06d " % segment) * 2800
    try:
        with open(path, "wb") as journal:
            for _ in range(100):
                journal.write(record)
                journal.flush()
                os.fsync(journal.fileno())
        return os.path.getsize(path)
    finally:
        os.unlink(path)


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        sizes = [work(s) for s in data]
    else:
        sizes = []
        threads = [
            threading.Thread(target=lambda part=data[i::4]: sizes.extend(work(s) for s in part))
            for i in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print("fsync_journal", sum(sizes))


if __name__ == "__main__":
    main()
