"""Measured alternatives vs predicted speedup on every bench workload that runs a pool.

For each workload in bench/workloads/ whose source creates a thread or process pool, runs
``concdiag whatif`` (``--repeat`` times each alternative, interleaved, workers: as asked,
1 and one per core) and prints one row per alternative: the measured speedup over the
program as written (median, and the range the spreads allow), the speedup the verdict
predicted (``verdict.predicted_speedup``, relative to as written), whether the prediction
falls inside the measured range, and the outcome of the test of the verdict. The closing
lines count how often the prediction was inside the range and its median error.

Usage: python bench/whatif.py [--repeat 3] [--only NAME,...] [--out docs/verdicts.md]
With --out the section "## Measured alternatives vs prediction" of that file is replaced (or
appended). Timings are taken side by side in one run; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from verdicts import profile  # bench/ is the script's folder

from concdiag.analysis.verdict.current_model import scan_source

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads"
HEADING = "## Measured alternatives vs prediction"
POOL_KINDS = ("thread_pool", "process_pool")

PREAMBLE = f"""{HEADING}

Printed by `python bench/whatif.py --out docs/verdicts.md` (see its docstring). For every
workload that creates a pool, `concdiag whatif` ran the program as written and with its pools
swapped (threads for processes and back; serial, with each task run inline; one worker per
core; the number asked), each `--repeat` times, interleaved, with no sampler. *Measured* is
the speedup over the program as written (median; in brackets the range both spreads allow);
*predicted* is what the verdict's `predicted_speedup` said for that kind and number of
workers, relative to as written; *inside* says whether the prediction falls in the measured
range; *outcome* is whatif's test of the recommendation (confirmed, refuted: the measurement
wins, inconclusive, not measured).

"""


def pooled(path: Path) -> bool:
    return any(site.kind in POOL_KINDS for site in scan_source(str(path)))


def whatif(path: Path, repeat: int) -> dict[str, Any]:
    return profile(path, command="whatif", options=("--repeat", str(repeat)))


def rows(name: str, data: dict[str, Any]) -> tuple[list[str], list[tuple[float, float, bool]]]:
    """Table rows of one workload and its (measured, predicted, inside) comparisons."""
    w = data["whatif"]
    v = data["verdict"]
    verdict = f"{v['bound']} → {v['recommendation']}"
    written = next((a for a in w["alternatives"] if a["as_written"]), None)
    if written is None:
        return [f"| {name} | — | — | — | — | — | {w['status']}: {w['note']} |"], []
    out, pairs = [], []
    for a in w["alternatives"]:
        if a["as_written"]:
            continue
        if a["speedup"] is None:
            measured, inside = f"{a['status'].replace('_', ' ')}", "—"
        else:
            high = "∞" if a["speedup_high"] is None else f"{a['speedup_high']:.2f}"
            measured = f"{a['speedup']:.2f}x ({a['speedup_low']:.2f}–{high})"
            inside = {"agrees": "yes", "optimistic": "no (over)", "pessimistic": "no (under)"}
            inside = inside.get(a["prediction"], "—")
            if a["predicted_speedup"] is not None:
                pairs.append((a["speedup"], a["predicted_speedup"], a["prediction"] == "agrees"))
        predicted = "—" if a["predicted_speedup"] is None else f"{a['predicted_speedup']:.2f}x"
        out.append(
            f"| {name} | {written['label'].removeprefix('as written: ')} | {a['label']} | "
            f"{measured} | {predicted} | {inside} | {w['outcome'].replace('_', ' ')} "
            f"({verdict}) |"
        )
    return out, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    paths = sorted(p for p in WORKLOADS.glob("*.py") if not p.name.startswith("_") and pooled(p))
    if names:
        paths = [p for p in paths if p.stem in names]
    start = os.getloadavg()
    table, pairs, outcomes = [], [], []
    for path in paths:
        data = whatif(path, args.repeat)
        lines, found = rows(path.stem, data)
        table += lines
        pairs += found
        outcomes.append(data["whatif"]["outcome"])
        print("\n".join(lines), flush=True)
    end = os.getloadavg()
    errors = [abs(math.log(predicted / measured)) for measured, predicted, _ in pairs]
    inside = sum(1 for *_, ok in pairs if ok)
    counts = ", ".join(f"{o.replace('_', ' ')} {outcomes.count(o)}" for o in sorted(set(outcomes)))
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        f"cores, load average {start[0]:.2f} at the start and {end[0]:.2f} at the end, "
        f"{args.repeat} interleaved repetitions; Python {sys.version.split()[0]}.",
        "",
        "| workload | as written | alternative | measured | predicted | inside "
        "| outcome (verdict) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *table,
        "",
        f"Predictions inside the measured range: {inside}/{len(pairs)}; median error of the "
        f"prediction {statistics.median(errors) if errors else 0:.2f} in log ratio "
        f"(0.10 is about 10%); outcomes over {len(paths)} workloads: {counts}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        from concdiag.fileio import write_atomic

        old = args.out.read_text() if args.out.exists() else ""
        kept = old.split(HEADING, 1)[0].rstrip("\n")
        # the real-program section (bench/realprograms/run.py) comes last: keep it
        marker = "<!-- realprograms:start -->"
        after = old[old.index(marker) :] if marker in old.split(HEADING, 1)[-1] else ""
        write_atomic(
            args.out, (kept + "\n\n" + PREAMBLE + text + ("\n" + after if after else "")).encode()
        )


if __name__ == "__main__":
    main()
