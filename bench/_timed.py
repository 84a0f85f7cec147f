"""Runs a script as ``python SCRIPT`` would and writes how long its own code took.

The bench runs every target through this wrapper in every mode (bare, under concdiag, under
py-spy, under yappi alone), so the figure compared is the same in all of them: the target's
run time from its first line to its last, without interpreter or profiler start-up.
``--yappi CLOCK`` starts yappi around the script, as a user profiling with yappi alone would.
``--lock-tracker TABLES`` installs concdiag's lock tracker as `profile` does (no sampler)
and writes its tables to TABLES, to time the tracker alone.
"""

import os
import runpy
import sys
import time


def _install_lock_tracker(tables: str) -> None:
    """The lock tracker, loaded as the bootstrap loads it in a target."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "src", "concdiag", "agent", "bootstrap.py")
    spec = importlib.util.spec_from_file_location("_concdiag_bootstrap", path)
    assert spec is not None and spec.loader is not None
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    tracker = bootstrap.agent_module("locks.tracker")
    tracker.install({"out": tables, "deadlock_after": 3.0}, lambda message: None)


def main() -> None:
    args = sys.argv[1:]
    clock = None
    if args[:1] == ["--yappi"]:
        clock, args = args[1], args[2:]
    if args[:1] == ["--lock-tracker"]:
        _install_lock_tracker(args[1])
        args = args[2:]
    target = args[0]
    sys.argv = args
    sys.path[0] = os.path.dirname(os.path.abspath(target))
    if clock is not None:
        import yappi

        yappi.set_clock_type(clock)
        yappi.start()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    try:
        runpy.run_path(target, run_name="__main__")
    finally:
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        if clock is not None:
            yappi.stop()
        out = os.environ.get("CONCDIAG_BENCH_TIME")
        if out:
            with open(out, "w") as handle:
                handle.write(repr(elapsed))
        cpu_out = os.environ.get("CONCDIAG_BENCH_CPU")  # the target process's CPU seconds
        if cpu_out:
            with open(cpu_out, "w") as handle:
                handle.write(repr(cpu))
        end = os.environ.get("CONCDIAG_BENCH_END")  # when the target's last line ran (epoch s)
        if end:
            with open(end, "w") as handle:
                handle.write(repr(time.time()))


if __name__ == "__main__":
    main()
