"""Time from the target's exit to concdiag's, against the run's length, on a process pool.

    python bench/post_processing.py [--seconds 60] [--runs 3] [--compare-src DIR]

The target is `bench/targets/asyncio_process_pool.py` (an asyncio parent feeding two forked
workers, black's shape) run through `bench/_timed.py`, which writes the wall-clock time of the
target's last line. For each run the bench prints the run's wall time (the profile's
``run.duration_s``: from the target's go to its exit), the post-exit time (concdiag's exit
minus the target's last line: py-spy's last trace, parsing, accounting, writing the JSON and
HTML) and their ratio, beside the goal: at most 10% of the run plus 1 s. It also prints the
deepest stack in the profile and how many stacks repeat a frame: the target has no
recursion, so outside the import system's own (legitimately nested) frames, none should.

``--seconds`` takes several lengths (``--seconds 15 30 60``) to show how post-exit time grows
with the run. ``--compare-src DIR`` also runs another checkout's ``src`` (for example the
commit before a change) with the same interpreter, interleaved run by run, so both are
measured side by side under the same load. Timings on a shared machine are noisy: the bench
prints ``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMED = ROOT / "bench" / "_timed.py"
TARGET = ROOT / "bench" / "targets" / "asyncio_process_pool.py"


@dataclass(frozen=True)
class Run:
    run_s: float  # the profile's run.duration_s
    post_exit_s: float  # concdiag's exit minus the target's last line
    deepest_stack: int
    repeating_stacks: int  # stacks with a frame twice, import machinery aside

    @property
    def ratio(self) -> float:
        return self.post_exit_s / self.run_s

    @property
    def within_goal(self) -> bool:
        return self.post_exit_s <= 0.1 * self.run_s + 1.0


def profile_once(src: Path, seconds: float, work: Path, keep: Path | None = None) -> Run:
    end_file = work / "end.txt"
    end_file.unlink(missing_ok=True)
    json_path = work / "p.json"
    env = dict(os.environ, CONCDIAG_BENCH_END=str(end_file), PYTHONPATH=str(src))
    command = [sys.executable, "-m", "concdiag", "profile", "-q", "--json", str(json_path)]
    command += ["-o", str(work / "p.html"), str(TIMED), str(TARGET), str(seconds)]
    proc = subprocess.run(command, env=env, cwd=work, stdout=subprocess.DEVNULL, text=True)
    finished = time.time()
    if proc.returncode != 0 or not end_file.exists():
        raise SystemExit(f"concdiag ({src}) failed with {proc.returncode}")
    profile = json.loads(json_path.read_text())
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(json_path, keep / f"{src.parent.name}-{seconds:g}s-{time.time():.0f}.json")
    deepest = max((len(s["frames"]) for s in profile["stacks"]), default=0)
    importing = {
        i for i, f in enumerate(profile["frames"]) if f["file"].startswith("<frozen importlib")
    }
    repeating = 0
    for stack in profile["stacks"]:
        own = [i for i in stack["frames"] if i not in importing]
        repeating += len(set(own)) < len(own)
    post_exit = finished - float(end_file.read_text())
    return Run(profile["run"]["duration_s"], post_exit, deepest, repeating)


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "uptime unavailable"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[60.0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare-src", type=Path, help="another checkout's src to time too")
    parser.add_argument("--keep", type=Path, help="copy every profile into this folder")
    args = parser.parse_args()
    sources = {"this checkout": ROOT / "src"}
    if args.compare_src is not None:
        sources[f"{args.compare_src}"] = args.compare_src.resolve()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC; {os.cpu_count()} cores")
    print(f"before: {uptime()}\n")
    results: dict[tuple[str, float], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="concdiag-bench-") as tmp:
        for round_index in range(args.runs):
            for seconds in args.seconds:
                names = list(sources)
                if round_index % 2:
                    names.reverse()  # neither checkout always runs first
                for name in names:
                    run = profile_once(sources[name], seconds, Path(tmp), args.keep)
                    results.setdefault((name, seconds), []).append(run)
                    print(
                        f"  {name}, {seconds:g} s target, run {round_index + 1}: run "
                        f"{run.run_s:.1f} s, post-exit {run.post_exit_s:.2f} s",
                        file=sys.stderr,
                    )
    print(
        "| code | target s | run wall s (median) | post-exit s (median, min–max) "
        "| post-exit / run (median) | goal: 10% of run + 1 s | runs within goal "
        "| deepest stack | stacks repeating a frame |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (name, seconds), runs in results.items():
        run_s = statistics.median(r.run_s for r in runs)
        post = [r.post_exit_s for r in runs]
        print(
            f"| {name} | {seconds:g} | {run_s:.1f} | {statistics.median(post):.2f} "
            f"({min(post):.2f}–{max(post):.2f}) | {statistics.median(r.ratio for r in runs):.3f} "
            f"| {0.1 * run_s + 1:.1f} | {sum(r.within_goal for r in runs)} of {len(runs)} "
            f"| {max(r.deepest_stack for r in runs)} | {max(r.repeating_stacks for r in runs)} |"
        )
    print(f"\nafter: {uptime()}")


if __name__ == "__main__":
    main()
