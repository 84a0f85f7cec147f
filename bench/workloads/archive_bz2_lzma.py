"""Build .bz2 and .xz archives of report files, one archive pair per report.

Model as written: serial. bz2 and lzma release the GIL while compressing.
"""

import bz2
import lzma
import sys


def items() -> list[bytes]:
    row = b"".join(
        b"%d,%d,customer-%d,%.2f\n" % (i, i * 7 % 1000, i % 313, i * 1.25) for i in range(8000)
    )
    return [row * 2 + str(n).encode() for n in range(6)]


def work(report: bytes) -> int:
    return len(bz2.compress(report, 9)) + len(lzma.compress(report, preset=1))


def main() -> None:
    sizes = [work(r) for r in items()]
    print("archive_bz2_lzma", sum(sizes), "--serial" in sys.argv)


if __name__ == "__main__":
    main()
