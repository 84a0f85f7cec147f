"""Verdicts on real programs vs their measured truth: 1 worker or 2, by the program's own flag.

For each program in `programs.PROGRAMS` (linters and compilers with process pools; programs
whose workers are of their own making: execnet, subprocess, fork, threads over the C
compiler, over shell commands and over the network), pinned in ``requirements.txt``, at each
input size (`inputs.SIZES`: big, and small enough that starting a worker may not pay):

1. times the program at 1 and at 2 workers, and without any pool where its 1-worker run
   still uses one and it has a pool-free mode (`Program.pool_free`), bare, in interleaved
   repetitions (the order alternates), and takes the medians; the *right* recommendation
   is the program's `parallel_right` when 2 workers are fastest and ``serial`` when 1
   worker or no pool is (both when they tie: within 10% or 50 ms), and the truth is
   *stable* as in ``bench/verdicts.py`` (`judge_truth`) and only when the 1-worker runs
   got their core where they compute (CPU at least `MIN_CPU_OF_WALL` of wall);
2. profiles it ``--runs`` times at each worker count with ``concdiag profile`` (through its
   entry point, ``concdiag profile --python VENV/bin/python VENV/bin/black ARGS``, as a
   user would) and reads each verdict, concdiag's time beyond the sampled run (its whole
   wall time less the run's: start-up, then analysis and writing), and the deepest stored
   stack, with the stacks whose first frame comes back deeper in them
   (`programs.relaunched_stacks`: a stack pasted onto itself);
3. prints a Markdown table with the load average, a reliability table (how often verdicts
   at each confidence agreed with the truth), and with ``--out docs/verdicts.md`` writes
   both into that page between its markers.

The environment is created once (``--venv``, default ``~/.cache/concdiag-bench/realprograms``)
and reused while ``requirements.txt`` is unchanged. The programs' own caches are kept out of
the timings (black's ``BLACK_CACHE_DIR`` and pylint's ``PYLINTHOME`` point to fresh folders).
Each run starts on a fresh copy of its input, in that folder as its working directory.
``linkchecker`` checks a site served by `site_server.py`, a process of its own started
beside the program (never under concdiag), so its sockets lead out of the profiled tree.

    python bench/realprograms/run.py [--reps 5] [--runs 3] [--only black,stestr]
                                     [--sizes big,small] [--out FILE]
                                     [--results FILE]  (reuse/keep timings and verdicts)

Heavy: about an hour on a quiet 2-core machine. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.realprograms.inputs import SIZES  # noqa: E402
from bench.realprograms.programs import (  # noqa: E402
    PROGRAMS,
    Program,
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
#: 0.25 (10.6 s of CPU in 42 s) at load 6.5. Applied only where the program computes at one
#: worker (`COMPUTES`): a program waiting on the network uses little CPU however quiet the
#: machine is.
MIN_CPU_OF_WALL = 0.8
#: A 1-worker run with at least this CPU/wall share in its best repetition computes (and so
#: is held to `MIN_CPU_OF_WALL`); linkchecker's runs, mostly waiting, measured 0.2-0.4.
COMPUTES = 0.6
#: The tie of `judge_truth`: within 10% or 50 ms of the fastest, as bench/verdicts.py.
TIE_SHARE = 0.10
TIE_S = 0.05
#: Confidence bins of the reliability table (lower edges).
BINS = (0.0, 0.6, 0.7, 0.8, 0.9)
START = "<!-- realprograms:start -->"
END = "<!-- realprograms:end -->"
SECTION = """## Real programs

Printed by `python bench/realprograms/run.py --out docs/verdicts.md` (see its docstring):
programs nobody on this project wrote, each run with its own worker flag at 1 and 2 workers
(and without any pool, where it has such a mode), on a big input and a small one. *Right*
is the program's parallel model (`multiprocessing` for worker processes doing the work,
`threading` for threads waiting on the network or driving external commands) when 2
workers ran fastest and `serial` when 1 worker or no pool did (both when within 10% or
50 ms); *stable* as above, and only when every 1-worker run of a program that computes got
its core (CPU/wall at 1, the lowest over the repetitions, at least 0.8: less means the
timings measured other programs' load). Then concdiag's verdicts on its runs at each worker
count (✓ right), concdiag's time beyond the sampled run (its whole wall time less the
run's: its start-up and the target's, then analysis and writing, the median), and the
deepest stored stack (`relaunched` counts stacks whose first frame comes back deeper in
them: none should). The programs run through their entry points (`concdiag profile
--python VENV/bin/python VENV/bin/black --check ...`).

"""


@dataclass(frozen=True, slots=True)
class Profiled:
    """What one ``concdiag profile`` run gave."""

    recommendation: str
    verdict: str
    confidence: float
    run_s: float
    beyond_s: float
    deepest: int
    relaunched: int
    #: The report's notes that the verdict contradicts its own figures (none should); None in
    #: results kept from before they were counted.
    contradictions: int | None = None
    #: The verdict's reasons (rule names) and its predicted speedups at 2 workers: what a
    #: wrong verdict rested on, kept in ``--results`` to find its cause later.
    rules: tuple[str, ...] = ()
    predicted_2: tuple[float, float] | None = None


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


def program_env(scratch: Path, bin_dir: Path) -> dict[str, str]:
    """The environment a program runs in: its caches in a fresh folder, so none carries over.

    The bench's environment comes first on PATH, as for a user who activated it (stestr
    starts its workers as ``python``).
    """
    env = dict(os.environ)
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
    env["BLACK_CACHE_DIR"] = str(cache / "black")
    env["PYLINTHOME"] = str(cache / "pylint")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def fresh_copy(pristine: Path, scratch: Path) -> Path:
    """A copy of the input for one run (the programs write beside their input)."""
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    shutil.copytree(pristine, folder, dirs_exist_ok=True)
    return folder


def time_run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
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
        env=env,
        cwd=cwd,
        timeout=3600,
        check=False,
    )
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall_s, cpu_s


def profile_run(argv: list[str], cwd: Path, env: dict[str, str], scratch: Path) -> Profiled:
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
    wall_s, _cpu_s = time_run(command, cwd, env)
    profile = json.loads((out / "p.json").read_text())
    recommendation, verdict = describe(profile)
    run_s = float(profile["run"]["duration_s"])
    return Profiled(
        recommendation=recommendation,
        verdict=verdict,
        confidence=float(profile["verdict"]["confidence"]),
        run_s=run_s,
        beyond_s=wall_s - run_s,
        deepest=max(stack_depths(profile), default=0),
        relaunched=relaunched_stacks(profile),
        contradictions=sum(
            "contradicts its own figures" in note for note in profile["run"].get("notes", [])
        ),
        rules=tuple(r["rule"] for r in profile["verdict"]["reasons"]),
        predicted_2=next(
            (
                (p["threads"], p["processes"])
                for p in profile["verdict"]["predicted_speedup"]
                if p["workers"] == 2
            ),
            None,
        ),
    )


@contextlib.contextmanager
def site_for(program: Program, pristine: Path) -> Iterator[str]:
    """The local site's address while it is served (``""`` for a program that needs none)."""
    if not program.needs_site:
        yield ""
        return
    server = subprocess.Popen(
        [sys.executable, str(HERE / "site_server.py"), str(pristine)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}/index.html"
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass(slots=True)
class Case:
    """One program at one input size: what was measured, kept between runs of the bench."""

    items: int = 0
    times: dict[str, list[float]] = field(default_factory=dict)
    profiles: dict[str, list[Profiled]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "times": self.times,
            "profiles": {n: [asdict(p) for p in ps] for n, ps in self.profiles.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        profiles = {n: [_profiled(p) for p in ps] for n, ps in data["profiles"].items()}
        return cls(int(data["items"]), data["times"], profiles)


def _profiled(data: dict[str, Any]) -> Profiled:
    """A kept verdict (JSON gives lists where the record has tuples)."""
    predicted = data.get("predicted_2")
    return Profiled(
        **{
            **data,
            "rules": tuple(data.get("rules", ())),
            "predicted_2": tuple(predicted) if predicted else None,
        }
    )


def measure(
    program: Program,
    size: str,
    python: str,
    bin_dir: Path,
    scratch: Path,
    reps: int,
    runs: int,
    case: Case,
) -> Case:
    """Time and profile ``program`` at ``size``, keeping what ``case`` already holds."""
    pristine = scratch / f"input-{program.name}-{size}"
    items = program.make_input(pristine, size)
    timed = (0, *WORKERS) if program.pool_free is not None else WORKERS
    env = program_env(scratch, bin_dir)
    with site_for(program, pristine) as url:

        def run_at(n: int) -> tuple[list[str], Path]:
            folder = fresh_copy(pristine, scratch)
            return program.argv(python, bin_dir, n, folder, url), folder

        if not all(case.times.get(key) for n in timed for key in (str(n), f"cpu{n}")):
            case.times = {key: [] for n in timed for key in (str(n), f"cpu{n}")}
            for rep in range(reps):
                for n in timed if rep % 2 == 0 else tuple(reversed(timed)):
                    argv, folder = run_at(n)
                    wall_s, cpu_s = time_run(argv, folder, env)
                    case.times[str(n)].append(wall_s)
                    case.times[f"cpu{n}"].append(cpu_s)
        for n in WORKERS:
            done = case.profiles.setdefault(str(n), [])
            while len(done) < runs:
                argv, folder = run_at(n)
                done.append(profile_run(argv, folder, env, scratch))
    case.items = items
    return case


@dataclass(frozen=True, slots=True)
class Judged:
    """A case's truth, and which of its verdicts agree with it."""

    medians: dict[str, float]
    right: set[str]
    got_core: float
    stable: bool
    verdicts: dict[int, list[tuple[Profiled, bool]]]


def judge(program: Program, case: Case) -> Judged:
    """The right recommendations and whether that truth is stable.

    Stable as in bench/verdicts.py, and, for a program that computes at one worker, the
    machine gave it its core: every 1-worker run's CPU time is at least `MIN_CPU_OF_WALL` of
    its wall time; less means other programs took the core and the timings measured load.
    """
    walls: dict[str, list[float]] = {n: case.times[n] for n in ("0", "1", "2") if n in case.times}
    medians, right_counts, stable = judge_truth(walls, TIE_SHARE, TIE_S)
    shares = [c / w for c, w in zip(case.times["cpu1"], case.times["1"])]
    got_core = min(shares)
    if max(shares) >= COMPUTES:
        stable = stable and got_core >= MIN_CPU_OF_WALL
    truth_of = {"0": "serial", "1": "serial", "2": program.parallel_right}
    right = {truth_of[n] for n in right_counts}
    verdicts = {
        n: [(p, p.recommendation in right) for p in case.profiles.get(str(n), [])] for n in WORKERS
    }
    return Judged(medians, right, got_core, stable, verdicts)


def row(program: Program, size: str, case: Case, judged: Judged) -> str:
    """The table's row for one program at one input size."""
    m = judged.medians
    pool_free = f"{m['0']:.2f}" if "0" in m else "–"
    cells = []
    for n in WORKERS:
        marks = [f"{p.verdict} {'✓' if ok else '✗'}" for p, ok in judged.verdicts[n]]
        cells.append("<br>".join(marks) or "–")
    profiled = [p for n in WORKERS for p, _ in judged.verdicts[n]]
    beyond = statistics.median(p.beyond_s for p in profiled) if profiled else 0.0
    deepest = max((p.deepest for p in profiled), default=0)
    relaunched = sum(p.relaunched for p in profiled)
    counted = [p.contradictions for p in profiled]
    contradictions = "–" if None in counted else str(sum(c or 0 for c in counted))
    return (
        f"| {program.name} | {size} | {case.items} | {pool_free} | {m['1']:.2f} | "
        f"{m['2']:.2f} | {'/'.join(sorted(judged.right))} | {judged.got_core:.2f} | "
        f"{'yes' if judged.stable else 'no'} | {cells[0]} | {cells[1]} | {beyond:.1f} | "
        f"{deepest} ({relaunched} relaunched) | {contradictions} |"
    )


def reliability(judged: list[Judged]) -> list[str]:
    """How often verdicts at each confidence agreed with a stable truth: the table's lines."""
    counts = {low: [0, 0] for low in BINS}
    for j in judged:
        if not j.stable:
            continue
        for n in WORKERS:
            for p, ok in j.verdicts[n]:
                low = max(b for b in BINS if p.confidence >= b)
                counts[low][0] += ok
                counts[low][1] += 1
    lines = ["| confidence | verdicts | agreed with the truth |", "| --- | --- | --- |"]
    edges = (*BINS[1:], 1.01)
    for low, high in zip(BINS, edges):
        agreed, total = counts[low]
        share = f"{agreed}/{total} ({agreed / total:.0%})" if total else "–"
        upper = "1.00" if high > 1 else f"{high:.2f}"
        lines.append(f"| {low:.2f}-{upper} | {total} | {share} |")
    return lines


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
    parser.add_argument("--reps", type=int, default=5, help="interleaved timing repetitions")
    parser.add_argument("--runs", type=int, default=3, help="concdiag runs per worker count")
    parser.add_argument("--only", default="")
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--results", type=Path, help="JSON of the timings and verdicts")
    parser.add_argument(
        "--reprofile", action="store_true", help="drop kept verdicts (keep the timings)"
    )
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    sizes = [s for s in args.sizes.split(",") if s]
    programs = [p for p in PROGRAMS if not names or p.name in names]
    venv_python = str(ensure_venv(args.venv)) if any(p.installed for p in programs) else ""
    bin_dir = args.venv / "bin"
    kept: dict[str, dict[str, Any]] = {}
    if args.results and args.results.exists():
        kept = json.loads(args.results.read_text())
    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="concdiag-realprograms-") as tmp:
        for program in programs:
            python = venv_python if program.installed else sys.executable
            for size in sizes:
                key = f"{program.name}/{size}"
                case = Case.from_json(kept[key]) if key in kept else Case()
                if args.reprofile:
                    case.profiles = {}
                case = measure(
                    program, size, python, bin_dir, Path(tmp), args.reps, args.runs, case
                )
                kept[key] = case.to_json()
                if args.results:
                    args.results.write_text(json.dumps(kept, indent=1))
                print(row(program, size, case, judge(program, case)), flush=True)
            loads.append(os.getloadavg())
    print(render(kept, loads, args.reps, args.runs))
    if args.out:
        write_section(args.out, render(kept, loads, args.reps, args.runs))


def render(
    kept: dict[str, dict[str, Any]], loads: list[tuple[float, float, float]], reps: int, runs: int
) -> str:
    """The section's text: every kept case, in `PROGRAMS` order, and the summary lines."""
    rows: list[str] = []
    judged: list[Judged] = []
    right = total = stable_cases = stable_all_right = 0
    for program in PROGRAMS:
        for size in SIZES:
            data = kept.get(f"{program.name}/{size}")
            if data is None:
                continue
            case = Case.from_json(data)
            j = judge(program, case)
            judged.append(j)
            rows.append(row(program, size, case, j))
            oks = [ok for n in WORKERS for _, ok in j.verdicts[n]]
            right += sum(oks)
            total += len(oks)
            if j.stable:
                stable_cases += 1
                stable_all_right += all(oks)
    load_text = ", ".join(f"{load[0]:.2f}" for load in loads)
    return "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
            f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {reps} interleaved "
            f"repetitions, medians in seconds, {runs} concdiag runs per worker count; "
            f"1-minute load average {load_text} (at the start and after each program).",
            "",
            "| program | input | items | no pool s | 1 worker s | 2 workers s | right | "
            "CPU/wall at 1 | stable | verdicts at 1 | verdicts at 2 | concdiag beyond the run s "
            "| deepest stack | contradictions |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            f"Verdicts right: {right}/{total}. Stable cases: {stable_cases}/{len(judged)}, "
            f"right in every run: {stable_all_right}/{stable_cases}.",
            "",
            "Reliability on the stable cases (every run's verdict, by its confidence):",
            "",
            *reliability(judged),
            "",
        ]
    )


if __name__ == "__main__":
    main()
