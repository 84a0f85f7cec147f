"""concdiag's cost on a process tree: black formatting a corpus on 2 worker processes.

Issue 11's case: ``black --check -q -W 2`` (compiled with mypyc, a ProcessPoolExecutor)
on a corpus copied from the standard library, bare and under ``concdiag profile``, in
interleaved rounds (the order alternates). Both run through ``bench/_timed.py``, so the time
compared is black's own, first line to last, in both. Printed per round and as medians:

- the slowdown (black's time under concdiag over the same round's bare time);
- concdiag's own CPU while black ran, as a share of one core, and how much of it was py-spy
  (the profile's ``run.overhead``);
- the time from black's last line to concdiag's exit (analysis and writing the report).

Goals (issue 11): slowdown <= 1.05x, concdiag <= 10% of a core, post-processing <= 10% of
the run + 1 s. The programs' environment is the real-program bench's
(``bench/realprograms``, created on first use).

    python bench/tree_overhead.py [--reps 5] [--workers 2] [--packages email,json,...]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.realprograms.programs import FULL, copy_corpus  # noqa: E402
from bench.realprograms.run import DEFAULT_VENV, ensure_venv  # noqa: E402

TIMED = ROOT / "bench" / "_timed.py"
CONCDIAG = [sys.executable, "-m", "concdiag"]


def one_run(
    mode: str, python: Path, black_args: list[str], scratch: Path, index: int
) -> dict[str, float]:
    """One run of black, bare or under concdiag; its own time and concdiag's figures."""
    env = dict(os.environ)
    env["BLACK_CACHE_DIR"] = tempfile.mkdtemp(dir=scratch)
    times = {name: scratch / f"{mode}-{index}.{name}" for name in ("time", "end")}
    env["CONCDIAG_BENCH_TIME"] = str(times["time"])
    env["CONCDIAG_BENCH_END"] = str(times["end"])
    black = [str(python), str(TIMED), str(python.parent / "black"), *black_args]
    profile = scratch / f"{mode}-{index}.json"
    if mode == "concdiag":
        command = [
            *CONCDIAG,
            "profile",
            "-q",
            "--json",
            str(profile),
            "-o",
            str(profile.with_suffix(".html")),
            "--python",
            str(python),
            *black[1:],
        ]
    else:
        command = black
    subprocess.run(command, env=env, cwd=scratch, stdout=subprocess.DEVNULL)
    ended = time.time()
    figures = {"own_s": float(times["time"].read_text())}
    if mode == "concdiag":
        overhead = json.loads(profile.read_text())["run"]["overhead"]
        figures["core_share"] = overhead["concdiag_core_share"]
        pyspy_of_concdiag = (overhead.get("stack_sampler_cpu_s") or 0.0) / max(
            overhead["concdiag_cpu_s"], 1e-9
        )
        figures["pyspy_share"] = pyspy_of_concdiag * overhead["concdiag_core_share"]
        figures["post_s"] = ended - float(times["end"].read_text())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--packages", default=",".join(FULL))
    args = parser.parse_args()
    python = ensure_venv(DEFAULT_VENV)
    with tempfile.TemporaryDirectory(prefix="concdiag-tree-") as tmp:
        scratch = Path(tmp)
        files = copy_corpus(scratch / "corpus", args.packages.split(","))
        black_args = ["--check", "-q", "-W", str(args.workers), "corpus"]
        load_before = os.getloadavg()
        print(
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
            f"black -W {args.workers} on {files} files, load "
            f"{' '.join(f'{x:.2f}' for x in load_before)} before"
        )
        print(
            "\n| round | bare (s) | under concdiag (s) | slowdown | concdiag CPU | of it py-spy "
            "| after the run (s) |"
        )
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        rounds = []
        for rep in range(args.reps):
            order = ("bare", "concdiag") if rep % 2 == 0 else ("concdiag", "bare")
            got = {mode: one_run(mode, python, black_args, scratch, rep) for mode in order}
            bare, under = got["bare"], got["concdiag"]
            ratio = under["own_s"] / bare["own_s"]
            rounds.append((bare, under, ratio))
            print(
                f"| {rep + 1} | {bare['own_s']:.2f} | {under['own_s']:.2f} | {ratio:.3f}x | "
                f"{under['core_share']:.1%} | {under['pyspy_share']:.1%} | "
                f"{under['post_s']:.2f} |",
                flush=True,
            )

        ratios = [r for _, _, r in rounds]
        print(
            f"| median | {statistics.median([b['own_s'] for b, _, _ in rounds]):.2f} | "
            f"{statistics.median([u['own_s'] for _, u, _ in rounds]):.2f} | "
            f"{statistics.median(ratios):.3f}x "
            f"(spread {min(ratios):.3f}-{max(ratios):.3f}) | "
            f"{statistics.median([u['core_share'] for _, u, _ in rounds]):.1%} | "
            f"{statistics.median([u['pyspy_share'] for _, u, _ in rounds]):.1%} | "
            f"{statistics.median([u['post_s'] for _, u, _ in rounds]):.2f} |"
        )
        print(f"\nload {' '.join(f'{x:.2f}' for x in os.getloadavg())} after")


if __name__ == "__main__":
    main()
