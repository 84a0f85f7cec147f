"""Is the verdict's confidence calibrated? Rerun every target N times and see.

For every sample target (`sample_targets/`, those naming an expected verdict), every bench
workload as written (`bench/workloads/`) and issue 12's short two-thread case
(`bench/targets/two_python_threads.py`), it runs ``concdiag profile`` ``--runs`` times
(interleaved: one round runs every target once, in a rotating order) and prints:

- per target: the majority recommendation and how many runs gave it, the confidences, and
  the clock check's largest disagreement between a thread's states and its CPU clock;
- the reliability table: per confidence bucket, the verdicts given with a confidence in it
  and the share of them that agreed with their target's majority (a calibrated confidence
  of 0.8 agrees about 80% of the time; the goal is >= 95% agreement from 0.8 up);
- the run-to-run spread of the worker time (the log standard deviations the confidence's
  rerun model uses, analysis/verdict/thresholds.py RERUN_SCALE_SD and RERUN_STATE_SD).

Usage: python bench/confidence.py [--runs 10] [--only NAME,...] [--out docs/verdicts.md]
With ``--out`` the tables replace the section between the confidence markers of that file
(appended when absent). Heavy: ~30 targets x runs profiles; the load average is printed.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from verdicts import profile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUCKETS = ((0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.01))
#: The worker-time states of the speedup model's T1 (GIL waits and unknown are left out).
WORK_STATES = ("gil_held", "native", "io", "sync")
#: A state's run-to-run spread is measured where it is at least this share of the work:
#: below it, the logarithm of a few ticks is noise.
SPREAD_MIN_SHARE = 0.1
BEGIN = "<!-- bench/confidence.py: begin -->"
END = "<!-- bench/confidence.py: end -->"


def targets() -> dict[str, Path]:
    found = {
        f"sample_targets/{p.stem}": p
        for p in sorted((ROOT / "sample_targets").glob("*.py"))
        if "Expected verdict:" in p.read_text()
    }
    found.update(
        (f"workloads/{p.stem}", p)
        for p in sorted((HERE / "workloads").glob("*.py"))
        if not p.name.startswith("_")
    )
    found["targets/two_python_threads"] = HERE / "targets" / "two_python_threads.py"
    return found


def run_all(paths: dict[str, Path], runs: int) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
    names = list(paths)
    for round_index in range(runs):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(profile(paths[name]))
        print(
            f"  round {round_index + 1}/{runs} done, load {os.getloadavg()[0]:.1f}", file=sys.stderr
        )
    return results


def worker_seconds(data: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in data["summary"]["worker_seconds"].items()}


def sampling_variance(data: dict[str, Any], state: str) -> float:
    """The variance of a state's seconds from the Python threads' error bars."""
    total = 0.0
    for process in data["processes"]:
        for thread in process["threads"]:
            errors = thread.get("share_errors")
            if thread["python"] and errors:
                total += (thread["alive_s"] * errors[state] / 2) ** 2
    return total


def spreads(profiles: list[dict[str, Any]]) -> tuple[float | None, list[float]]:
    """Log-sd of the work (T1) across runs, and of each large state's share of it beyond
    its sampling error."""
    work = [sum(worker_seconds(p)[k] for k in WORK_STATES) for p in profiles]
    if len(work) < 2 or min(work) <= 0:
        return None, []
    scale = statistics.stdev(math.log(w) for w in work)
    beyond = []
    for state in WORK_STATES:
        seconds = [worker_seconds(p)[state] for p in profiles]
        if min(s / w for s, w in zip(seconds, work)) < SPREAD_MIN_SHARE:
            continue
        logs = [math.log(s / w) for s, w in zip(seconds, work)]
        sampling = statistics.mean(
            sampling_variance(p, state) / s**2 for p, s in zip(profiles, seconds)
        )
        beyond.append(math.sqrt(max(0.0, statistics.variance(logs) - sampling)))
    return scale, beyond


def report(results: dict[str, list[dict[str, Any]]], load_before: str) -> str:
    rows = []
    buckets: dict[tuple[float, float], list[bool]] = {b: [] for b in BUCKETS}
    scale_spreads: list[float] = []
    state_spreads: list[float] = []
    worst_clock = (0.0, "")
    for name, profiles in results.items():
        recs = [p["verdict"]["recommendation"] for p in profiles]
        majority, count = Counter(recs).most_common(1)[0]
        confidences = [float(p["verdict"]["confidence"]) for p in profiles]
        for rec, conf in zip(recs, confidences):
            bucket = next(b for b in BUCKETS if b[0] <= conf < b[1])
            buckets[bucket].append(rec == majority)
        checks = [p["summary"].get("clock_check") for p in profiles]
        disagreements = [c["largest_disagreement"] for c in checks if c]
        over = sum(c["threads_over"] for c in checks if c)
        largest = max(disagreements, default=None)
        if largest is not None and largest > worst_clock[0]:
            worst_clock = (largest, name)
        others = ", ".join(f"{r} {n}" for r, n in Counter(recs).most_common()[1:])
        scale, beyond = spreads(profiles)
        if scale is not None:
            scale_spreads.append(scale)
        state_spreads += beyond
        rows.append(
            f"| {name} | {majority} {count}/{len(recs)}{f' ({others})' if others else ''} | "
            f"{min(confidences):.2f} / {statistics.median(confidences):.2f} / "
            f"{max(confidences):.2f} | "
            + (f"{100 * largest:.1f} | {over} |" if largest is not None else "n/a | |")
        )
    runs = max(len(p) for p in results.values())
    lines = [
        BEGIN,
        "## Confidence: reruns vs the confidence given",
        "",
        f"Printed by `python bench/confidence.py --runs {runs} --out docs/verdicts.md`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}; load average {load_before} before, "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} after. Each target profiled "
        f"{runs} times (interleaved rounds), default rate. *Clock check*: the largest "
        "disagreement between a thread's states and its own CPU clock over the runs "
        "(points of its observed time), and how many threads in all runs disagreed by more "
        "than 5 points and their sampling error.",
        "",
        "| target | majority recommendation | confidence min / median / max | "
        "clock check, largest (points) | threads over |",
        "| --- | --- | --- | ---: | ---: |",
        *rows,
        "",
        "Reliability (every verdict above, by the confidence it was given):",
        "",
        "| confidence | verdicts | agree with their target's majority | share |",
        "| --- | ---: | ---: | ---: |",
    ]
    for (low, high), agreed in buckets.items():
        share = f"{100 * sum(agreed) / len(agreed):.0f}%" if agreed else "n/a"
        label = f"{low:.2f}-{min(high, 1.0):.2f}"
        lines.append(f"| {label} | {len(agreed)} | {sum(agreed)} | {share} |")
    lines += [
        "",
        f"Largest clock disagreement of all: {100 * worst_clock[0]:.1f} points "
        f"({worst_clock[1] or 'none'}).",
        "Run-to-run spread of the work T1 (log standard deviation across a target's runs): "
        + (
            f"median {statistics.median(scale_spreads):.3f}, max {max(scale_spreads):.3f} "
            f"over {len(scale_spreads)} targets"
            if scale_spreads
            else "n/a"
        )
        + "; of a state's share of it beyond its sampling error: "
        + (
            f"median {statistics.median(state_spreads):.3f}, max {max(state_spreads):.3f} "
            f"over {len(state_spreads)} target-states."
            if state_spreads
            else "n/a."
        ),
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    from concdiag.fileio import write_atomic

    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + text.rstrip("\n") + old[old.index(END) + len(END) :]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    write_atomic(path, new.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated target names (stems)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    paths = targets()
    only = [n for n in args.only.split(",") if n]
    if only:
        paths = {k: v for k, v in paths.items() if k.rsplit("/", 1)[-1] in only}
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(run_all(paths, args.runs), load_before)
    print(text)
    if args.out:
        write_section(args.out, text)


if __name__ == "__main__":
    main()
