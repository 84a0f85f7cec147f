"""Verdict vs measured truth on the realistic workloads in bench/workloads/.

For each workload it measures the real wall time of its items under serial,
ThreadPoolExecutor(2) and ProcessPoolExecutor(2) (interleaved repetitions, medians), takes
the fastest model as the truth (every model within ``--tie`` (10%) or ``--tie-s`` (50 ms) of
the fastest counts as right),
then runs ``concdiag profile`` on the workload as written and again with ``--serial``, and
prints a Markdown table of verdict vs truth with an accuracy line. A workload is *stable*
when the fastest model of every repetition is a right one, each model's repetitions agree
within a factor MAX_SPREAD, and the right models beat the others by MIN_MARGIN.

Usage: python bench/verdicts.py [--reps 3] [--only NAME,...] [--out docs/verdicts.md]
                                [--timings FILE]   (reuse/keep the timings in FILE)
Timings are taken side by side in one run; on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKLOADS = HERE / "workloads"
#: The models timed, in the recommendation's words, so a verdict compares with them directly.
MODELS = ("serial", "threading", "multiprocessing")
#: A workload's truth is stable when every repetition's fastest model is a right one, no
#: model's repetitions differ by more than MAX_SPREAD, and the right models beat the rest by
#: MIN_MARGIN (when some model is not right).
MAX_SPREAD = 1.5
MIN_MARGIN = 1.2
#: Where bench/whatif.py's section starts in the same file.
WHATIF_HEADING = "## Measured alternatives vs prediction"


PREAMBLE = """# Verdicts vs measured truth

Printed by `python bench/verdicts.py --out docs/verdicts.md` (see its docstring). For each
workload in `bench/workloads/`: the measured wall time of its items run serially, on
`ThreadPoolExecutor(2)` and on `ProcessPoolExecutor(2)` (pool start-up included, `items()`
not); the *right models* (within 10% or 50 ms of the fastest); whether that truth is
*stable* (every repetition's fastest is a right model, each model's repetitions agree within
1.5x, and the right models beat the others by 1.2x); and concdiag's verdict
(`bound/cpu_kind -> recommendation (confidence)`) on the workload as written and on a
serial run (`--serial`), marked ✓ when the recommendation is a right model.

"""


def judge_truth(
    times: dict[str, list[float]], tie_share: float, tie_s: float
) -> tuple[dict[str, float], set[str], bool]:
    """Medians, the right models (within the tie of the fastest), and whether that is stable.

    ``times`` holds each model's interleaved repetitions. Stable: every repetition's fastest
    model is a right one, no model's repetitions differ by more than MAX_SPREAD, and the right
    models beat the rest by MIN_MARGIN (when some model is not right).
    """
    models = list(times)
    reps = min(len(ts) for ts in times.values())
    medians = {m: statistics.median(ts) for m, ts in times.items()}
    fastest = min(medians.values())
    tie = max(fastest * tie_share, tie_s)
    right = {m for m, t in medians.items() if t <= fastest + tie}
    rep_winners = {min(models, key=lambda m, r=r: times[m][r]) for r in range(reps)}
    excluded = [t for m, t in medians.items() if m not in right]
    margin = min(excluded) / fastest if excluded else float("inf")
    spread = max(max(ts) / max(min(ts), 1e-9) for ts in times.values())
    stable = rep_winners <= right and spread <= MAX_SPREAD and margin >= MIN_MARGIN
    return medians, right, stable


def time_model(path: Path, model: str) -> float:
    out = subprocess.run(
        [sys.executable, str(HERE / "_run_model.py"), str(path), model],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def profile(
    path: Path, *args: str, command: str = "profile", options: tuple[str, ...] = ()
) -> dict[str, Any]:
    """concdiag ``command`` (profile, or whatif) on ``path`` with ``args``: the profile."""
    with tempfile.TemporaryDirectory(prefix="concdiag-verdicts-") as tmp:
        json_path = Path(tmp) / "p.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "concdiag",
                command,
                *options,
                "-q",
                "--json",
                str(json_path),
                "-o",
                str(Path(tmp) / "p.html"),
                str(path),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            cwd=tmp,
        )
        data: dict[str, Any] = json.loads(json_path.read_text())
        return data


def describe(profile_data: dict[str, Any]) -> tuple[str, str]:
    v = profile_data["verdict"]
    assert isinstance(v, dict)
    kind = f"/{v['cpu_kind']}" if v.get("cpu_kind") else ""
    return v[
        "recommendation"
    ], f"{v['bound']}{kind} → {v['recommendation']} ({v['confidence']:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tie", type=float, default=0.10, help="within this of the fastest")
    parser.add_argument("--tie-s", type=float, default=0.05, help="or within these seconds")
    parser.add_argument("--only", default="")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--timings", type=Path, help="JSON cache of the measured times")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    paths = sorted(p for p in WORKLOADS.glob("*.py") if not p.name.startswith("_"))
    if names:
        paths = [p for p in paths if p.stem in names]

    cache: dict[str, dict[str, list[float]]] = {}
    if args.timings and args.timings.exists():
        cache = json.loads(args.timings.read_text())
    rows = []
    written_ok = serial_ok = stable_n = stable_written_ok = stable_serial_ok = 0
    for path in paths:
        cached = cache.get(path.stem) or {}
        times: dict[str, list[float]] = {m: cached.get(m) or [] for m in MODELS}
        if not all(times[m] for m in MODELS):
            for rep in range(args.reps):
                order = MODELS[rep % 3 :] + MODELS[: rep % 3]
                for model in order:
                    times[model].append(time_model(path, model))
            cache[path.stem] = times
            if args.timings:
                args.timings.write_text(json.dumps(cache, indent=1))
        medians, right, stable = judge_truth(times, args.tie, args.tie_s)
        written_rec, written = describe(profile(path))
        serial_rec, serial = describe(profile(path, "--serial"))
        w_ok = written_rec in right
        s_ok = serial_rec in right
        written_ok += w_ok
        serial_ok += s_ok
        if stable:
            stable_n += 1
            stable_written_ok += w_ok
            stable_serial_ok += s_ok
        rows.append(
            f"| {path.stem} | {medians['serial']:.2f} | {medians['threading']:.2f} | "
            f"{medians['multiprocessing']:.2f} | {'/'.join(sorted(right))} | "
            f"{'yes' if stable else 'no'} | "
            f"{written} {'✓' if w_ok else '✗'} | {serial} {'✓' if s_ok else '✗'} |"
        )
        print(rows[-1], flush=True)

    n = len(paths)
    reps_all = min((len(t) for c in cache.values() for t in c.values()), default=args.reps)
    load = os.getloadavg()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        f"cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (at the end), "
        f"{reps_all} interleaved repetitions, medians in seconds; Python {sys.version.split()[0]}.",
        "",
        "| workload | serial s | threads(2) s | processes(2) s | right models | stable | "
        "verdict as written | verdict on a serial run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Accuracy as written: {written_ok}/{n}; on serial runs: {serial_ok}/{n}. "
        f"Stable workloads: {stable_n}/{n}; as written {stable_written_ok}/{stable_n}, "
        f"serial runs {stable_serial_ok}/{stable_n}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        from confidence import BEGIN, END

        from concdiag.fileio import write_atomic

        # bench/whatif.py's section (measured alternatives) follows this table, and
        # bench/confidence.py's reliability section: keep them
        old = args.out.read_text() if args.out.exists() else ""
        tail = old[old.index(WHATIF_HEADING) :] if WHATIF_HEADING in old else ""
        if BEGIN in old and END in old and BEGIN not in tail:
            tail += "\n" + old[old.index(BEGIN) : old.index(END) + len(END)] + "\n"
        # and bench/realprograms/run.py's real-program section, last
        if REALPROGRAMS in old and REALPROGRAMS not in tail:
            tail += "\n" + old[old.index(REALPROGRAMS) :]
        write_atomic(args.out, (PREAMBLE + text + ("\n" + tail if tail else "")).encode())


#: Where bench/realprograms/run.py's section begins in the same page.
REALPROGRAMS = "<!-- realprograms:start -->"


if __name__ == "__main__":
    main()
