"""The cost of measuring: each target bare vs under concdiag, --deep, py-spy and yappi alone.

    python bench/overhead.py [--runs 5] [--part all|targets|render|procfs|startup]

Targets part: every mode runs the target through ``bench/_timed.py``, which reports the
target's own run time (first line to last), so modes compare like with like; the command's
whole wall time is recorded too. Modes run interleaved, in a rotating order, ``--runs``
rounds, and each round's time is divided by the same round's bare time: the table prints
medians, the median ratio to bare and the spread (min-max) of the per-round ratios. The empty
script row shows what concdiag adds around a script: start-up, analysis and report writing.
Part by part: ``no-locks`` is concdiag without its lock tracker in the target (the difference
to ``concdiag`` is the tracker's), ``py-spy`` is the stack sampler alone at the same flags and
rate (what is left of ``no-locks`` beyond it is the state sampler: its /proc reads, GIL reads
and fork watch, and its competing for a core).

Render part: a synthetic 10-minute, 50-thread recording (100 Hz ticks, changing stacks, deep
tables) goes through the real analysis; the bench prints the time to render its HTML and the
size of its JSON profile.

Procfs part: the state sampler's own CPU per tick, reading each thread's scheduler clocks
(``schedstat``) and not, against a live target of 8 threads (half sleeping, half spinning in
pure Python), in interleaved rounds: the sampler runs flat out for ``PROCFS_SECONDS`` and its
thread's CPU time is divided by the ticks it made. Printed: per tick, per thread, and what the
schedstat reads add at the default rate, as a share of one core.

Startup part: the command's own start, interleaved with a bare ``python -c pass``: ``concdiag
--version``, and ``concdiag report`` of a small saved profile to Markdown and to HTML (the
report's start plus its rendering), ``--runs`` times 4 rounds each; medians and spread.

Timings depend on the machine and its load: the script prints ``uptime`` beside them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMED = ROOT / "bench" / "_timed.py"
PY = sys.executable

TARGETS = {
    "cpu_threads (CPU-bound)": ROOT / "sample_targets" / "cpu_threads.py",
    "io_threads (I/O-bound)": ROOT / "sample_targets" / "io_threads.py",
    "call_heavy (calls)": ROOT / "bench" / "targets" / "call_heavy.py",
    "empty script": ROOT / "bench" / "targets" / "empty.py",
}
MODES_FOR = {
    "cpu_threads (CPU-bound)": ["bare", "concdiag", "no-locks", "py-spy", "deep"],
    "io_threads (I/O-bound)": ["bare", "concdiag", "no-locks", "py-spy", "deep"],
    "call_heavy (calls)": ["bare", "concdiag", "py-spy", "yappi", "deep", "deep-wall"],
    "empty script": ["bare", "concdiag", "deep"],
}
RATE_HZ = 100


@dataclass
class Samples:
    target_s: list[float] = field(default_factory=list)
    command_s: list[float] = field(default_factory=list)
    overhead_share: list[float] = field(default_factory=list)  # concdiag's own core share


def find_pyspy() -> str:
    beside = Path(PY).parent / "py-spy"
    return str(beside) if beside.exists() else (shutil.which("py-spy") or "py-spy")


def command(mode: str, target: Path, work: Path) -> list[str]:
    timed = [str(TIMED), str(target)]
    concdiag = [PY, "-m", "concdiag", "profile", "-q", "--rate", str(RATE_HZ)]
    concdiag += ["--json", str(work / "p.json"), "-o", str(work / "p.html")]
    if mode == "bare":
        return [PY, *timed]
    if mode == "concdiag":
        return [*concdiag, *timed]
    if mode == "no-locks":  # everything but the lock tracker inside the target
        return [*concdiag, "--no-locks", *timed]
    if mode == "deep":
        return [*concdiag, "--deep", *timed]
    if mode == "deep-wall":
        return [*concdiag, "--deep", "--deep-clock", "wall", *timed]
    if mode == "yappi":
        return [PY, str(TIMED), "--yappi", "cpu", str(target)]
    if mode == "py-spy":
        # the same flags concdiag gives py-spy, at the same rate
        return [
            find_pyspy(),
            "record",
            "--rate",
            str(RATE_HZ),
            "--format",
            "raw",
            "--idle",
            "--threads",
            "--nonblocking",
            "-o",
            str(work / "pyspy.txt"),
            "--",
            PY,
            *timed,
        ]
    raise ValueError(mode)


def run_once(mode: str, target: Path, work: Path) -> tuple[float, float, float | None]:
    time_file = work / "time.txt"
    time_file.unlink(missing_ok=True)
    env = dict(os.environ, CONCDIAG_BENCH_TIME=str(time_file))
    t0 = time.perf_counter()
    proc = subprocess.run(
        command(mode, target, work),
        env=env,
        cwd=work,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    command_s = time.perf_counter() - t0
    if proc.returncode != 0 or not time_file.exists():
        raise SystemExit(f"{mode} {target.name} failed ({proc.returncode}): {proc.stderr[-400:]}")
    share = None
    if mode in ("concdiag", "no-locks", "deep", "deep-wall"):
        share = json.loads((work / "p.json").read_text())["run"]["overhead"]["concdiag_core_share"]
    return float(time_file.read_text()), command_s, share


def ratio_text(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.3f}× ({min(values):.3f}–{max(values):.3f})"


def bench_targets(runs: int) -> None:
    results: dict[tuple[str, str], Samples] = {}
    with tempfile.TemporaryDirectory(prefix="concdiag-bench-") as tmp:
        work = Path(tmp)
        for round_index in range(runs):
            for label, target in TARGETS.items():
                modes = MODES_FOR[label]
                # rotate the order each round so no mode always runs first (or last)
                shift = round_index % len(modes)
                for mode in modes[shift:] + modes[:shift]:
                    target_s, command_s, share = run_once(mode, target, work)
                    samples = results.setdefault((label, mode), Samples())
                    samples.target_s.append(target_s)
                    samples.command_s.append(command_s)
                    if share is not None:
                        samples.overhead_share.append(share)
            print(f"  round {round_index + 1}/{runs} done", file=sys.stderr)
    print(f"\n### Target run time, {runs} interleaved runs per mode, {RATE_HZ} Hz\n")
    print(
        "| target | mode | target s (median, min–max) | × bare (median, min–max of "
        "per-round ratios) | command s (median) | concdiag core share |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for label in TARGETS:
        bare = results[(label, "bare")]
        for mode in MODES_FOR[label]:
            s = results[(label, mode)]
            ratios = [m / b for m, b in zip(s.target_s, bare.target_s) if b > 0]
            med = statistics.median(s.target_s)
            share = f"{100 * statistics.median(s.overhead_share):.1f}%" if s.overhead_share else ""
            ratio = "1" if mode == "bare" else ratio_text(ratios)
            print(
                f"| {label} | {mode} | {med:.3f} ({min(s.target_s):.3f}–{max(s.target_s):.3f}) "
                f"| {ratio} | {statistics.median(s.command_s):.3f} | {share} |"
            )
    empty = "empty script"
    added = [
        c - b
        for c, b in zip(results[(empty, "concdiag")].command_s, results[(empty, "bare")].command_s)
    ]
    added_deep = [
        c - b
        for c, b in zip(results[(empty, "deep")].command_s, results[(empty, "bare")].command_s)
    ]
    print(
        f"\nTime concdiag adds to an empty script (command wall, concdiag minus bare python): "
        f"median {statistics.median(added):.3f} s (min {min(added):.3f}, max {max(added):.3f}); "
        f"with --deep {statistics.median(added_deep):.3f} s."
    )


# -- render part ------------------------------------------------------------------------------


def synthetic_recording(minutes: float = 10.0, threads: int = 50, rate_hz: float = 100.0):  # type: ignore[no-untyped-def]
    """A long, wide run: every thread walks a call tree, its stack changing every ~50 ms."""
    from concdiag.recording.recording import RecordingDraft
    from concdiag.recording.records import (
        StackChange,
        TargetInfo,
        ThreadCpu,
        ThreadInfo,
        ThreadObservation,
        Tick,
    )
    from concdiag.recording.yappi import YappiFunction, YappiRun, YappiThread

    rng = random.Random(1)
    pid = 4242
    tids = [pid + i for i in range(threads)]
    rec = RecordingDraft(
        rate_hz=rate_hz,
        target=TargetInfo(
            pid, "/usr/bin/python3", "3.11.7", "cpython", True, False, 0.005, True, pid
        ),
    )
    files = [f"/srv/app/module_{i}.py" for i in range(40)]
    functions = [(f"func_{i}", files[i % len(files)], 10 + 7 * i) for i in range(600)]
    n_ticks = int(minutes * 60 * rate_hz)
    yappi_threads = []
    stacks = {}
    ticks = []
    for index, tid in enumerate(tids):
        rec.threads[(pid, tid)] = ThreadInfo(
            pid, tid, f"worker-{index}", 1000 + index, True, tid == pid
        )
        changes = []
        t = 0.0
        while t < n_ticks / rate_hz:
            depth = rng.randint(4, 22)
            frames = tuple(
                (fn, file, line + rng.randint(0, 5))
                for fn, file, line in rng.sample(functions[index * 10 : index * 10 + 120], depth)
            )
            changes.append(StackChange(t, frames))
            t += rng.expovariate(20.0)
        stacks[(pid, tid)] = changes
        rec.thread_cpu[(pid, tid)] = ThreadCpu(pid, tid, 100.0, 5.0)
        yappi_threads.append(
            YappiThread(
                index,
                tid,
                1000 + index,
                f"worker-{index}",
                100.0,
                5000,
                300,
                tuple(
                    YappiFunction(
                        fn, file, line, rng.randint(1, 10**6), 1, rng.random() * 10, rng.random()
                    )
                    for fn, file, line in functions[index * 10 : index * 10 + 120]
                ),
            )
        )
    codes = ("R", "S", "S", "R")
    cpu = dict.fromkeys(tids, 0)
    for i in range(n_ticks):
        holder = tids[i % threads]
        observations = []
        for tid in tids:
            state = codes[(i + tid) % 4]
            if state == "R":
                cpu[tid] += 1
            syscall = None if state == "R" else (202 if (i + tid) % 3 else 45)
            observations.append(
                ThreadObservation(tid, state, syscall, syscall == 202 and tid % 2 == 0, cpu[tid])
            )
        ticks.append(
            Tick(i / rate_hz, pid, True, holder, i // 10, sum(cpu.values()), tuple(observations))
        )
    rec.duration_s = n_ticks / rate_hz
    rec.yappi = YappiRun(
        pid,
        "cpu",
        "per-function CPU time",
        "1.7.6",
        "3.11.7",
        rec.duration_s,
        0.1,
        tuple(yappi_threads),
    )
    return rec.freeze(ticks, stacks)


def bench_render() -> None:
    from datetime import datetime, timezone

    from concdiag.analysis import RunContext, replay_profile
    from concdiag.model import Profile
    from concdiag.render.html import HtmlRenderer

    t0 = time.perf_counter()
    rec = synthetic_recording()
    built_s = time.perf_counter() - t0
    now = datetime.now(timezone.utc)
    ctx = RunContext("launch", ["python", "app.py"], "app.py", None, "/srv/app", now, now, 0, None)
    t0 = time.perf_counter()
    profile = replay_profile(rec, ctx)
    analysis_s = time.perf_counter() - t0
    document = profile.to_json()
    loaded = Profile.from_dict(json.loads(document))
    renderer = HtmlRenderer()
    renderer.render(loaded)  # warm the template cache, as the second report of a session is
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        html = renderer.render(loaded)
        times.append(time.perf_counter() - t0)
    stacks = len(profile.stacks)
    print("\n### Rendering a 10-minute, 50-thread profile (synthetic, deep tables included)\n")
    print("| figure | value |")
    print("| --- | ---: |")
    print(f"| ticks x threads | {len(rec.ticks)} x 50 = {len(rec.ticks) * 50} samples |")
    print(f"| distinct stacks kept | {stacks} |")
    print(f"| JSON profile size | {len(document.encode()) / 1e6:.2f} MB |")
    print(f"| HTML render time (median of 3, template cached) | {statistics.median(times):.3f} s |")
    print(f"| HTML size | {len(html.encode()) / 1e6:.2f} MB |")
    print(f"| analysis time (recording to profile) | {analysis_s:.1f} s |")
    print(f"| building the synthetic recording | {built_s:.1f} s |")


# -- procfs part ------------------------------------------------------------------------------

PROCFS_SECONDS = 2.0
PROCFS_TARGET = """
import threading, time
def sleeper():
    while True:
        time.sleep(0.05)
def spinner():
    x = 1
    while True:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
for i in range(8):
    threading.Thread(target=sleeper if i % 2 else spinner, daemon=True).start()
time.sleep(3600)
"""


def sampler_cost(pid: int, schedstat: bool, follow: bool = False) -> tuple[float, int]:
    """The sampler thread's CPU seconds per tick, and the threads it read, flat out."""
    from concdiag.collectors.procfs import ProcSampler
    from concdiag.recording.recording import RecordingDraft
    from concdiag.recording.records import TargetInfo

    target = TargetInfo(pid, PY, "", "cpython", True, False, None, False, pid)
    recording = RecordingDraft(rate_hz=100_000.0, target=target)  # no waiting between ticks
    sampler = ProcSampler(recording, pid, None, {}, follow_children=follow, schedstat=schedstat)
    sampler.start()
    time.sleep(PROCFS_SECONDS)
    sampler.stop()
    threads = max((len(t.threads) for t in sampler.ticks), default=0)
    return recording.sampler_cpu_s / max(1, sampler.ticks_done), threads


#: The sampler's configurations compared: (label, schedstat, follow children).
PROCFS_ARMS = (
    ("stat + syscall + schedstat + new children", True, True),
    ("stat + syscall + schedstat", True, False),
    ("stat + syscall", False, False),
)


def bench_procfs(runs: int) -> None:
    target = subprocess.Popen([PY, "-c", PROCFS_TARGET])
    try:
        time.sleep(0.5)
        costs: dict[str, list[float]] = {label: [] for label, _, _ in PROCFS_ARMS}
        threads = 0
        for round_index in range(runs):
            shift = round_index % len(PROCFS_ARMS)
            for label, schedstat, follow in PROCFS_ARMS[shift:] + PROCFS_ARMS[:shift]:
                cost, threads = sampler_cost(target.pid, schedstat, follow)
                costs[label].append(cost)
    finally:
        target.kill()
        target.wait()
    print(f"\n### State sampler CPU per tick, {threads} threads, {runs} interleaved rounds\n")
    print("| reads | CPU per tick (median, min–max) | per thread |")
    print("| --- | ---: | ---: |")
    for label, values in costs.items():
        med = statistics.median(values)
        print(
            f"| {label} | {1e6 * med:.0f} µs ({1e6 * min(values):.0f}–{1e6 * max(values):.0f}) "
            f"| {1e6 * med / max(1, threads):.1f} µs |"
        )
    for more, less in itertools.pairwise(PROCFS_ARMS):
        diffs = [a - b for a, b in zip(costs[more[0]], costs[less[0]])]
        added = statistics.median(costs[more[0]]) - statistics.median(costs[less[0]])
        print(
            f"\n{more[0]} against {less[0]}: {1e6 * added:.0f} µs per tick (per-round "
            f"differences {1e6 * min(diffs):.0f} to {1e6 * max(diffs):.0f} µs): at {RATE_HZ} Hz, "
            f"{100 * added * RATE_HZ:.2f}% of one core."
        )
    print(
        "\n(Looking for new children reads /proc/loadavg every tick and, when the machine's "
        "newest pid moved, the target's children lists at most every 20 ms: on a machine "
        "where other programs fork all the time, that is 50 scans a second.)"
    )


def bench_startup(runs: int) -> None:
    concdiag_exe = str(Path(sys.executable).with_name("concdiag"))
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "p.json"
        subprocess.run(
            [
                concdiag_exe,
                *("profile", "-q", "--json", str(saved), "-o", str(Path(tmp) / "p.html")),
                str(ROOT / "sample_targets" / "idle_sleep.py"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        modes = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "concdiag --version": [concdiag_exe, "--version"],
            "concdiag report --format md": [
                concdiag_exe,
                "report",
                str(saved),
                "--format",
                "md",
                "-o",
                f"{tmp}/r.md",
            ],
            "concdiag report (html)": [concdiag_exe, "report", str(saved), "-o", f"{tmp}/r.html"],
        }
        times: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(runs * 4):
            for name, argv in modes.items():
                t0 = time.perf_counter()
                subprocess.run(
                    argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                times[name].append(time.perf_counter() - t0)
    print(f"\n### Start-up, {runs * 4} interleaved runs each\n")
    print("| command | median s | min-max s |\n| --- | ---: | ---: |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f}-{max(values):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--part", choices=["all", "targets", "render", "procfs", "startup"], default="all"
    )
    args = parser.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {os.cpu_count()} cores; uptime: {load}")
    if args.part in ("all", "targets"):
        bench_targets(args.runs)
    if args.part in ("all", "render"):
        bench_render()
    if args.part in ("all", "procfs"):
        bench_procfs(args.runs)
    if args.part in ("all", "startup"):
        bench_startup(args.runs)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\nafter: uptime: {load}")


if __name__ == "__main__":
    main()
