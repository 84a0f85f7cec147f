"""Verdicts on real programs vs their measured truth: 1 worker or 2, by the program's own flag.

For each program in `programs.PROGRAMS` (black, flake8, pylint, isort, autopep8 from PyPI,
pinned in ``requirements.txt``; ``compileall`` from the standard library), on its own copy
of a corpus copied from the interpreter's standard library:

1. times the program at 1 and at 2 workers, and without any pool where its 1-worker run
   still uses one and it has a pool-free mode (`Program.pool_free`: isort), bare, in
   interleaved repetitions (the order alternates), and takes the medians; the *right*
   recommendation is ``multiprocessing`` when 2 workers are fastest and ``serial`` when 1
   worker or no pool is (both when they tie: within 10% or 50 ms), and the truth is
   *stable* as in ``bench/verdicts.py`` (`judge_truth`) and only when the 1-worker runs
   got their core (CPU at least `MIN_CPU_OF_WALL` of wall);
2. profiles it once at each worker count with ``concdiag profile`` (through its entry point,
   ``concdiag profile --python VENV/bin/python VENV/bin/black ARGS``, as a user would) and
   reads the verdict, concdiag's time beyond the sampled run (its whole wall time less the
   run's: start-up, then analysis and writing), and the deepest stored stack, with the
   stacks whose first frame comes back deeper in them (`programs.relaunched_stacks`: a
   stack pasted onto itself);
3. prints a Markdown table with the load average, and with ``--out docs/verdicts.md``
   writes it into that page between its markers.

The environment is created once (``--venv``, default ``~/.cache/concdiag-bench/realprograms``)
and reused while ``requirements.txt`` is unchanged. The programs' own caches are kept out of
the timings (black's ``BLACK_CACHE_DIR`` and pylint's ``PYLINTHOME`` point to fresh folders).

    python bench/realprograms/run.py [--reps 3] [--only black,compileall] [--out FILE]
                                     [--timings FILE]   (reuse/keep the bare timings)

Heavy: about 15 minutes on a quiet 2-core machine. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.realprograms.programs import (  # noqa: E402
    PROGRAMS,
    Program,
    copy_corpus,
    relaunched_stacks,
    stack_depths,
)
from bench.verdicts import describe, judge_truth  # noqa: E402

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
DEFAULT_VENV = Path.home() / ".cache" / "concdiag-bench" / "realprograms"
WORKERS = (1, 2)
#: A 1-worker run that got less CPU than this share of its wall time was starved of its core
#: by other programs: its timing measures the machine's load, so the truth is not stable.
#: A stated choice: a program computing on one core gets nearly all of it on an idle machine;
#: measured here (2 cores): flake8 -j 1 0.86 and autopep8 -j 1 0.91 at load 3.8, flake8 -j 1
#: 0.25 (10.6 s of CPU in 42 s) at load 6.5.
MIN_CPU_OF_WALL = 0.8
#: The recommendation that a worker count being fastest makes right.
TRUTH_OF = {0: "serial", 1: "serial", 2: "multiprocessing"}
START = "<!-- realprograms:start -->"
END = "<!-- realprograms:end -->"
SECTION = """## Real programs

Printed by `python bench/realprograms/run.py --out docs/verdicts.md` (see its docstring):
programs nobody on this project wrote, each run with its own worker flag at 1 and 2 workers
on a corpus copied from the interpreter's standard library. *Right* is `multiprocessing`
when 2 workers ran fastest and `serial` when 1 did (both when within 10% or 50 ms);
*stable* as above, and only when every 1-worker run got its core (CPU/wall at 1, the lowest
over the repetitions, at least 0.8: less means the timings measured other programs' load).
Then concdiag's verdict on the run at each worker count, concdiag's time
beyond the sampled run (its whole wall time less the run's: its start-up and the target's,
then analysis and writing), and the deepest stored stack (`relaunched` counts stacks whose
first frame comes back deeper in them: none should).
The programs run through their entry points (`concdiag profile --python VENV/bin/python
VENV/bin/black --check ...`), and `compileall` as `python .../compileall.py -q -f -j N`.

"""


@dataclass(frozen=True, slots=True)
class Profiled:
    """What one ``concdiag profile`` run gave."""

    recommendation: str
    verdict: str
    run_s: float
    beyond_s: float
    deepest: int
    relaunched: int


def ensure_venv(venv: Path) -> Path:
    """The bench's environment with the pinned programs; created when missing or stale."""
    stamp = venv / "requirements.sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    python = venv / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
        check=True,
    )
    stamp.write_text(digest)
    return python


def program_env(scratch: Path) -> dict[str, str]:
    """The environment a program runs in: its caches in a fresh folder, so none carries over."""
    env = dict(os.environ)
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
    env["BLACK_CACHE_DIR"] = str(cache / "black")
    env["PYLINTHOME"] = str(cache / "pylint")
    return env


def time_run(argv: list[str], scratch: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` and every process it waited for.

    Its output is discarded and its exit status ignored (a linter exits 1 when it finds
    something). CPU is user + system time of the finished children (pool workers included).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=program_env(scratch),
        timeout=3600,
        check=False,
    )
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall_s, cpu_s


def profile_run(argv: list[str], scratch: Path) -> Profiled:
    """``concdiag profile`` on ``python SCRIPT ARGS`` (``argv``), read back from its JSON."""
    python, script, *args = argv
    out = Path(tempfile.mkdtemp(prefix="profile-", dir=scratch))
    command = [
        sys.executable,
        "-m",
        "concdiag",
        "profile",
        "-q",
        "--python",
        python,
        "--json",
        str(out / "p.json"),
        "-o",
        str(out / "p.html"),
        script,
        *args,
    ]
    wall_s, _cpu_s = time_run(command, scratch)
    profile = json.loads((out / "p.json").read_text())
    recommendation, verdict = describe(profile)
    run_s = float(profile["run"]["duration_s"])
    return Profiled(
        recommendation=recommendation,
        verdict=verdict,
        run_s=run_s,
        beyond_s=wall_s - run_s,
        deepest=max(stack_depths(profile), default=0),
        relaunched=relaunched_stacks(profile),
    )


def measure(
    program: Program,
    python: str,
    bin_dir: Path,
    scratch: Path,
    reps: int,
    cached: dict[str, list[float]] | None,
) -> tuple[int, dict[str, list[float]], dict[int, Profiled]]:
    corpus = scratch / f"corpus-{program.name}"
    files = copy_corpus(corpus, program.corpus)
    times = cached or {}
    timed = (0, *WORKERS) if program.pool_free is not None else WORKERS
    if not all(times.get(key) for n in timed for key in (str(n), f"cpu{n}")):
        times = {key: [] for n in timed for key in (str(n), f"cpu{n}")}
        for rep in range(reps):
            for n in timed if rep % 2 == 0 else tuple(reversed(timed)):
                wall_s, cpu_s = time_run(program.argv(python, bin_dir, n, corpus), scratch)
                times[str(n)].append(wall_s)
                times[f"cpu{n}"].append(cpu_s)
    profiled = {n: profile_run(program.argv(python, bin_dir, n, corpus), scratch) for n in WORKERS}
    return files, times, profiled


def row(
    program: Program, files: int, times: dict[str, list[float]], profiled: dict[int, Profiled]
) -> tuple[str, bool, bool, bool]:
    """The table row, whether the truth is stable, and whether each run's verdict is right.

    Stable as in bench/verdicts.py, and the machine gave the program its core: every 1-worker
    run's CPU time is at least `MIN_CPU_OF_WALL` of its wall time. These programs compute at
    1 worker, so less means other programs took the core and the timings measured the load.
    """
    walls = {str(n): times[str(n)] for n in (0, *WORKERS) if str(n) in times}
    medians, right_counts, stable = judge_truth(walls, 0.10, 0.05)
    got_core = min(c / w for c, w in zip(times["cpu1"], times["1"]))
    stable = stable and got_core >= MIN_CPU_OF_WALL
    right = {TRUTH_OF[int(n)] for n in right_counts}
    ok = {n: p.recommendation in right for n, p in profiled.items()}
    mark = {n: "✓" if ok[n] else "✗" for n in WORKERS}
    p1, p2 = profiled[1], profiled[2]
    pool_free = f"{medians['0']:.2f}" if "0" in medians else "–"
    text = (
        f"| {program.name} | {files} | {pool_free} | {medians['1']:.2f} | {medians['2']:.2f} | "
        f"{'/'.join(sorted(right))} | {got_core:.2f} | {'yes' if stable else 'no'} | "
        f"{p1.verdict} {mark[1]} | {p2.verdict} {mark[2]} | "
        f"{p1.beyond_s:.1f} / {p2.beyond_s:.1f} | "
        f"{p1.deepest} / {p2.deepest} ({p1.relaunched + p2.relaunched} relaunched) |"
    )
    return text, stable, ok[1], ok[2]


def write_section(page: Path, body: str) -> None:
    """Put ``body`` between the page's markers (appended, with them, when missing)."""
    from concdiag.fileio import write_atomic

    text = page.read_text() if page.exists() else ""
    section = f"{START}\n{SECTION}{body}{END}\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_atomic(page, text.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--timings", type=Path, help="JSON cache of the bare timings")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    programs = [p for p in PROGRAMS if not names or p.name in names]
    venv_python = str(ensure_venv(args.venv)) if any(p.installed for p in programs) else ""
    bin_dir = args.venv / "bin"
    cache: dict[str, dict[str, list[float]]] = {}
    if args.timings and args.timings.exists():
        cache = json.loads(args.timings.read_text())
    rows = []
    stable_n = right_1 = right_2 = stable_right = 0
    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="concdiag-realprograms-") as tmp:
        for program in programs:
            python = venv_python if program.installed else sys.executable
            files, times, profiled = measure(
                program, python, bin_dir, Path(tmp), args.reps, cache.get(program.name)
            )
            cache[program.name] = times
            if args.timings:
                args.timings.write_text(json.dumps(cache, indent=1))
            text, stable, ok1, ok2 = row(program, files, times, profiled)
            rows.append(text)
            print(text, flush=True)
            right_1 += ok1
            right_2 += ok2
            if stable:
                stable_n += 1
                stable_right += ok1 and ok2
            loads.append(os.getloadavg())
    n = len(programs)
    load_text = ", ".join(f"{load[0]:.2f}" for load in loads)
    body = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {args.reps} interleaved "
            f"repetitions, medians in seconds; 1-minute load average {load_text} (at the "
            "start and after each program).",
            "",
            "| program | files | no pool s | 1 worker s | 2 workers s | right | CPU/wall at 1 | "
            "stable | verdict at 1 | verdict at 2 | concdiag beyond the run s | deepest stack |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Right at 1 worker: {right_1}/{n}; at 2 workers: {right_2}/{n}. Stable truths: "
            f"{stable_n}/{n}, right on both runs: {stable_right}/{stable_n}.",
            "",
        ]
    )
    print(body)
    if args.out:
        write_section(args.out, body)


if __name__ == "__main__":
    main()
