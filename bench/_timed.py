"""Runs a script as ``python SCRIPT`` would and writes how long its own code took.

The bench runs every target through this wrapper in every mode (bare, under concdiag, under
py-spy, under yappi alone), so the figure compared is the same in all of them: the target's
run time from its first line to its last, without interpreter or profiler start-up.
``--yappi CLOCK`` starts yappi around the script, as a user profiling with yappi alone would.
"""

import os
import runpy
import sys
import time


def main() -> None:
    args = sys.argv[1:]
    clock = None
    if args[:1] == ["--yappi"]:
        clock, args = args[1], args[2:]
    target = args[0]
    sys.argv = args
    sys.path[0] = os.path.dirname(os.path.abspath(target))
    if clock is not None:
        import yappi

        yappi.set_clock_type(clock)
        yappi.start()
    t0 = time.perf_counter()
    try:
        runpy.run_path(target, run_name="__main__")
    finally:
        elapsed = time.perf_counter() - t0
        if clock is not None:
            yappi.stop()
        out = os.environ.get("CONCDIAG_BENCH_TIME")
        if out:
            with open(out, "w") as handle:
                handle.write(repr(elapsed))
        end = os.environ.get("CONCDIAG_BENCH_END")  # when the target's last line ran (epoch s)
        if end:
            with open(end, "w") as handle:
                handle.write(repr(time.time()))


if __name__ == "__main__":
    main()
