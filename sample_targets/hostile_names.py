"""Short pure-Python CPU work in two threads whose names are hostile to HTML.

What it shows: two threads named with markup and quoting characters (<script>, quotes, </style>,
an entity) run an ordinary pure-Python arithmetic loop for about a second in total, so a report
must escape every name it shows; command-line arguments are accepted and ignored.
Expected verdict: bound=cpu cpu_kind=python recommendation=multiprocessing
Current model: threading
"""

import sys
import threading

HOSTILE_NAMES = (
    "<script>alert(1)</script> \"quotes' </style> &amp; worker-1",
    "</style><script>alert(1)</script> &amp; \"quotes' worker-2",
)
#: Loop iterations per thread: about 0.6 s each under CPython 3.11, ~1.2 s for the two together.
ITERATIONS = 2_800_000


def crunch(index: int, results: list[int]) -> None:
    x = index + 1
    acc = 0
    for _ in range(ITERATIONS):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc = (acc + (x >> 11)) & 0xFFFFFFFF
    results[index] = acc


def main() -> None:
    ignored = len(sys.argv) - 1  # arguments such as --token=s3cr3t or <b> are not used
    results = [0] * len(HOSTILE_NAMES)
    threads = [
        threading.Thread(target=crunch, args=(i, results), name=name)
        for i, name in enumerate(HOSTILE_NAMES)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checksum = (results[0] * 31 + results[1]) & 0xFFFFFFFF
    print(f"hostile_names: threads={len(threads)} ignored_args={ignored} checksum={checksum:08x}")


if __name__ == "__main__":
    main()
