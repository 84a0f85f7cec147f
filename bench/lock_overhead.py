"""The cost of tracking locks: a lock-heavy target with and without the tracker, side by side.

    python bench/lock_overhead.py [--runs 7] [--part all|micro|target]

Micro part: one `with lock:` on an uncontended lock, the C lock against the tracker's wrapper
(and the same for RLock), in alternating batches in one process: nanoseconds per acquisition
and release, and what the wrapper adds.

Target part: ``bench/targets/lock_heavy.py`` (four workers, a shared lock, a queue and an
RLock), heavy (~130k acquisitions a second here) and moderate (10x more work per item), in
four modes, interleaved in a rotating order for ``--runs`` rounds, each timed inside the
target by ``bench/_timed.py`` (wall and the target process's CPU): bare
``python``; the tracker alone (installed as ``profile`` installs it, no sampler);
``concdiag profile --no-locks``; ``concdiag profile`` (lock tracking on, the default). The
table prints each mode's median time and the median (min-max) of the per-round ratios of the
pairs that isolate the tracker: tracker / bare and concdiag / concdiag --no-locks.

Timings depend on the machine and its load: the script prints ``uptime`` beside them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIMED = ROOT / "bench" / "_timed.py"
TARGET = ROOT / "bench" / "targets" / "lock_heavy.py"
BOOTSTRAP = ROOT / "src" / "concdiag" / "agent" / "bootstrap.py"
PY = sys.executable
MODES = ("bare", "tracker", "concdiag --no-locks", "concdiag")
PAIRS = (("tracker", "bare"), ("concdiag", "concdiag --no-locks"))


def _tracker() -> Any:
    """The lock tracker, loaded as the bootstrap loads it in a target."""
    spec = importlib.util.spec_from_file_location("_concdiag_bootstrap", BOOTSTRAP)
    assert spec is not None and spec.loader is not None
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    return bootstrap.agent_module("locks.tracker")


def micro(batches: int = 15, per_batch: int = 200_000) -> None:
    """ns per uncontended `with lock:`, C lock vs tracked, alternating batches."""
    import threading

    tracker = _tracker()
    site = tracker.Site("bench", 0, "micro", "Lock", None)
    kinds = {
        "Lock": (threading.Lock(), tracker.TrackedLock(site)),
        "RLock": (threading.RLock(), tracker.TrackedRLock(site, threading.RLock)),
    }

    def per_acquisition(lock: Any) -> float:
        t0 = time.perf_counter()
        for _ in range(per_batch):
            with lock:
                pass
        return (time.perf_counter() - t0) / per_batch * 1e9

    print(f"\n### One uncontended `with lock:` ({batches} alternating batches of {per_batch})\n")
    print("| lock | C lock ns (median, min) | tracked ns (median, min) | added ns (median) |")
    print("| --- | ---: | ---: | ---: |")
    for name, (raw, tracked) in kinds.items():
        plain: list[float] = []
        wrapped: list[float] = []
        for _ in range(batches):
            plain.append(per_acquisition(raw))
            wrapped.append(per_acquisition(tracked))
        added = [w - p for w, p in zip(wrapped, plain)]
        print(
            f"| {name} | {statistics.median(plain):.0f} ({min(plain):.0f}) | "
            f"{statistics.median(wrapped):.0f} ({min(wrapped):.0f}) | "
            f"{statistics.median(added):.0f} |"
        )
    t0 = time.perf_counter()
    for _ in range(per_batch):
        time.monotonic()
    clock_ns = (time.perf_counter() - t0) / per_batch * 1e9
    print(f"\ntime.monotonic() from Python: {clock_ns:.0f} ns a call on this machine.")


#: Loop steps of work per item: the heavy variant takes ~10x more locks per second.
VARIANTS = {"heavy": 40, "moderate": 400}


def command(mode: str, steps: int, work: Path) -> list[str]:
    timed = [str(TIMED), str(TARGET), str(steps)]
    concdiag = [PY, "-m", "concdiag", "profile", "-q"]
    concdiag += ["--json", str(work / "p.json"), "-o", str(work / "p.html")]
    if mode == "bare":
        return [PY, *timed]
    if mode == "tracker":
        return [PY, str(TIMED), "--lock-tracker", str(work / "locks.json"), str(TARGET), str(steps)]
    if mode == "concdiag --no-locks":
        return [*concdiag, "--no-locks", *timed]
    return [*concdiag, *timed]


def run_once(mode: str, steps: int, work: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the target's own code."""
    time_file, cpu_file = work / "time.txt", work / "cpu.txt"
    time_file.unlink(missing_ok=True)
    cpu_file.unlink(missing_ok=True)
    env = dict(os.environ, CONCDIAG_BENCH_TIME=str(time_file), CONCDIAG_BENCH_CPU=str(cpu_file))
    proc = subprocess.run(
        command(mode, steps, work),
        env=env,
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0 or not time_file.exists():
        raise SystemExit(f"{mode} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return float(time_file.read_text()), float(cpu_file.read_text())


def _ratio_rows(name: str, values: dict[str, list[float]]) -> None:
    for a, b in PAIRS:
        ratios = [x / y for x, y in zip(values[a], values[b])]
        print(
            f"| {name} | {a} / {b} | {statistics.median(ratios):.3f} | "
            f"{min(ratios):.3f}–{max(ratios):.3f} |"
        )


def target(runs: int) -> None:
    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    rate: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="concdiag-lockbench-") as tmp:
        work = Path(tmp)
        for round_index in range(runs):
            shift = round_index % len(MODES)
            for variant, steps in VARIANTS.items():
                for mode in MODES[shift:] + MODES[:shift]:
                    elapsed, used = run_once(mode, steps, work)
                    wall.setdefault((variant, mode), []).append(elapsed)
                    cpu.setdefault((variant, mode), []).append(used)
                    if mode == "tracker":
                        tables = json.loads((work / "locks.json").read_text())
                        total = sum(site["acquisitions"] for site in tables["sites"])
                        rate[variant].append(total / elapsed)
            print(f"  round {round_index + 1}/{runs} done", file=sys.stderr)
    print(f"\n### lock_heavy.py, {runs} interleaved rounds\n")
    print("| variant | mode | wall s (median, min–max) | CPU s (median) | acquisitions/s |")
    print("| --- | --- | ---: | ---: | ---: |")
    for variant in VARIANTS:
        per_s = f"{statistics.median(rate[variant]):,.0f}"
        for mode in MODES:
            t = wall[(variant, mode)]
            c = statistics.median(cpu[(variant, mode)])
            print(
                f"| {variant} | {mode} | {statistics.median(t):.3f} ({min(t):.3f}–{max(t):.3f}) "
                f"| {c:.3f} | {per_s if mode == 'tracker' else ''} |"
            )
    for label, values in (("wall", wall), ("CPU", cpu)):
        print(f"\n| variant | ratio ({label} time of the target) | median | per-round min–max |")
        print("| --- | --- | ---: | ---: |")
        for variant in VARIANTS:
            _ratio_rows(variant, {m: values[(variant, m)] for m in MODES})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--part", choices=("all", "micro", "target"), default="all")
    args = parser.parse_args()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {os.cpu_count()} cores; {uptime}"
    )
    if args.part in ("all", "micro"):
        micro()
    if args.part in ("all", "target"):
        target(args.runs)
    after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nafter: {after}")


if __name__ == "__main__":
    main()
