"""Count primes in ranges by trial division: a plain serial number-crunching script.

Model as written: serial. Pure Python arithmetic: GIL-held CPU, independent per range.
"""

import sys


def items() -> list[tuple[int, int]]:
    return [(start, start + 6000) for start in range(1_000_000, 1_000_000 + 6000 * 48, 6000)]


def work(bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    count = 0
    for n in range(lo, hi):
        if n % 2 == 0:
            continue
        d = 3
        prime = True
        while d * d <= n:
            if n % d == 0:
                prime = False
                break
            d += 2
        count += prime
    return count


def main() -> None:
    total = sum(work(b) for b in items())
    print("primes_serial", total, "--serial" in sys.argv)


if __name__ == "__main__":
    main()
