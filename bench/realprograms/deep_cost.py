"""What `--deep` costs real programs: each one's own wall time bare, under `concdiag profile`
and under `concdiag profile --deep`, interleaved, on its small input in one process.

    python -m bench.realprograms.deep_cost [--reps 3] [--only black,flake8] [--size small]

One process, so deep mode traces all the work: a program's run without any pool where it
has one, else its 1-worker run (flake8's ``-j 1`` and pylint's run in the main process;
black's is mypyc-compiled, so yappi sees little of its code). Each mode's time is the whole
command's wall time, so concdiag's start-up and report are inside it: the ``concdiag`` column
shows what those add, ``--deep`` what tracing adds on top (with yappi's CPU clock, the default,
and with its wall clock). Prints medians, each mode's
median ratio to bare and the range of the per-round ratios, and the load before and after.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.realprograms.programs import POOLED
from bench.realprograms.run import DEFAULT_VENV, ensure_venv, fresh_copy, program_env, time_run

MODES = ("bare", "concdiag", "deep", "deep-wall")
DEFAULT_PROGRAMS = ("black", "flake8", "pylint", "isort", "autopep8")


def command(mode: str, argv: list[str], out: Path) -> list[str]:
    if mode == "bare":
        return argv
    python, script, *args = argv
    deep = {"deep": ["--deep"], "deep-wall": ["--deep", "--deep-clock", "wall"]}.get(mode, [])
    return [
        sys.executable,
        *("-m", "concdiag", "profile", "-q", *deep, "--python", python),
        *("--json", str(out / "p.json"), "-o", str(out / "p.html"), script, *args),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default=",".join(DEFAULT_PROGRAMS))
    parser.add_argument("--size", default="small", choices=("small", "big"))
    args = parser.parse_args()
    python = ensure_venv(DEFAULT_VENV)
    bin_dir = python.parent
    chosen = [p for p in POOLED if p.name in args.only.split(",")]
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; before: {load}\n")
    print("| program | bare s | concdiag s (× bare) | --deep s (× bare, range) ", end="")
    print("| wall clock s (× bare) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for program in chosen:
            pristine = scratch / f"input-{program.name}"
            program.make_input(pristine, args.size)
            env = program_env(scratch, bin_dir)
            workers = 0 if program.pool_free is not None else 1
            times: dict[str, list[float]] = {m: [] for m in MODES}
            for rep in range(args.reps):
                for mode in MODES if rep % 2 == 0 else tuple(reversed(MODES)):
                    folder = fresh_copy(pristine, scratch)
                    argv = program.argv(str(python), bin_dir, workers, folder)
                    out = Path(tempfile.mkdtemp(dir=scratch))
                    wall_s, _cpu = time_run(command(mode, argv, out), folder, env)
                    times[mode].append(wall_s)
            bare = statistics.median(times["bare"])
            plain = statistics.median(times["concdiag"])
            deep = statistics.median(times["deep"])
            wall = statistics.median(times["deep-wall"])
            ratios = [d / b for d, b in zip(times["deep"], times["bare"], strict=True)]
            print(
                f"| {program.name} | {bare:.2f} | {plain:.2f} ({plain / bare:.2f}×) | "
                f"{deep:.2f} ({deep / bare:.2f}×, {min(ratios):.2f}-{max(ratios):.2f}) | "
                f"{wall:.2f} ({wall / bare:.2f}×) |"
            )
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nafter: {load}")


if __name__ == "__main__":
    main()
