"""A main thread that mostly sleeps and does almost nothing.

What it shows: the only thread sleeps 0.1 s at a time for ~1.8 s and does a trivial bit of
bookkeeping between naps, so there is neither CPU work nor real I/O to spread over threads or
processes; nothing would get faster, so it should stay as it is.
Expected verdict: bound=idle cpu_kind=none recommendation=serial
Current model: serial
"""

import time

NAPS = 18
NAP_S = 0.1


def main() -> None:
    ticks = 0
    for n in range(NAPS):
        time.sleep(NAP_S)
        ticks += n  # the "work": one addition per nap
    print(f"idle_sleep: naps={NAPS} ticks={ticks}")


if __name__ == "__main__":
    main()
