"""concdiag beside CPython's own sampler, ``profiling.sampling`` (3.15 and later).

Run it with a Python 3.15 that has concdiag installed, e.g. the venv `.ci/real-interpreters`
makes in its chroot (``/opt/concdiag-3.15/bin/python``, with this checkout at
``/src/concdiag``):

    python bench/peers.py [--reps 3] [--out docs/performance.md]

1. **Shares.** Each calibration target (``tests/calibration``: three pure-Python threads
   sharing the GIL, a hashing thread beside Python ones, threads waiting on a socket,
   threads taking turns on a lock) runs once under ``concdiag profile`` (at the rate
   tests/calibration uses) and once under ``python -m profiling.sampling run --mode wall -a
   --gecko`` (its default rate, 1 kHz). Each run's threads measure their own truth
   (``tests/calibration/truth.py``: their CPU clock, time queued for a CPU, marked waits).
   concdiag's share of each state is over the thread's observed time, as tests/calibration
   reads it; profiling.sampling's is the summed length of the thread's ``Has GIL`` and
   ``Waiting for GIL`` markers (and, for a wait that is not the GIL's, ``Off CPU`` less
   ``Waiting for GIL``) over the span from its first to its last sample.
2. **Slowdown.** A fixed amount of work (two pure-Python threads and a hashing thread) times
   itself bare and under each tool, at its default rate and at 100 Hz, interleaved, ``--reps``
   times; the target's own elapsed time, so neither tool's start-up or analysis counts.

Prints Markdown tables with the 1-minute load before and after; ``--out`` puts them in that
page between its markers. Timings are evidence only on a quiet machine (load under 1.5).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "tests" / "calibration"
#: The rates tests/calibration profiles each target at (its `TARGETS`).
TARGETS = {"gil_threads": 250, "hash_beside_python": 100, "socket_wait": 250, "lock_serial": 250}
#: For a wait that is not the GIL's, profiling.sampling shows the thread off CPU without
#: waiting for the GIL; concdiag names the wait.
OFF_CPU_STATES = ("io", "sync")
START = "<!-- peers:start -->"
END = "<!-- peers:end -->"
#: Two pure-Python threads and a hashing thread (sha256 releases the GIL): a fixed amount of
#: work, about 1.5 s bare on the 2-core machine with Debian's 3.15; it writes its own elapsed
#: time.
FIXED_WORK = """\
import hashlib, sys, threading, time


def python_loop(n):
    x = 1
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def hashing(n):
    data = b"x" * (1 << 20)
    for _ in range(n):
        hashlib.sha256(data).digest()


t0 = time.perf_counter()
threads = [threading.Thread(target=python_loop, args=(5_000_000,)) for _ in range(2)]
threads.append(threading.Thread(target=hashing, args=(1000,)))
for t in threads:
    t.start()
for t in threads:
    t.join()
with open(sys.argv[1], "w") as out:
    out.write(repr(time.perf_counter() - t0))
"""


def concdiag_exe() -> str:
    return str(Path(sys.executable).with_name("concdiag"))


def load() -> float:
    return os.getloadavg()[0]


# -- shares -----------------------------------------------------------------------------------


def concdiag_shares(name: str, tmp: Path) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The run's truth, and concdiag's share of each state per thread name."""
    truth_path, profile_path = tmp / f"{name}-cd-truth.json", tmp / f"{name}-cd.json"
    subprocess.run(
        [concdiag_exe(), "profile", "-q", "--rate", str(TARGETS[name]), "--json",
         str(profile_path), str(CALIBRATION / f"{name}.py"), str(truth_path)],
        check=True, cwd=tmp, capture_output=True,
    )  # fmt: skip
    profile = json.loads(profile_path.read_text())
    shares: dict[str, dict[str, float]] = {}
    for process in profile["processes"]:
        for thread in process["threads"]:
            observed = thread["observed_samples"] or 1
            scale = thread["samples"] / observed
            shares[thread["name"]] = {k: v * scale for k, v in thread["states"].items()}
    return json.loads(truth_path.read_text()), shares


def sampler_shares(name: str, tmp: Path) -> tuple[dict[str, Any], dict[int, dict[str, float]]]:
    """The run's truth, and profiling.sampling's GIL-held, GIL-wait and off-CPU shares per
    native thread id, from its Gecko profile's markers."""
    truth_path, gecko = tmp / f"{name}-ps-truth.json", tmp / f"{name}-ps.json"
    subprocess.run(
        [sys.executable, "-m", "profiling.sampling", "run", "--mode", "wall", "-a", "--gecko",
         "-o", str(gecko), str(CALIBRATION / f"{name}.py"), str(truth_path)],
        check=True, cwd=tmp, capture_output=True,
    )  # fmt: skip
    data = json.loads(gecko.read_text())
    strings = data["shared"]["stringArray"]
    shares: dict[int, dict[str, float]] = {}
    for thread in data["threads"]:
        times = thread["samples"].get("time") or []
        span = (times[-1] - times[0]) if len(times) > 1 else 0.0
        markers = thread["markers"]
        spent: dict[str, float] = {}
        for i in range(markers["length"]):
            label = strings[markers["name"][i]]
            start, end = markers["startTime"][i], markers["endTime"][i]
            if end is not None and start is not None:
                spent[label] = spent.get(label, 0.0) + end - start
        if span <= 0:
            continue
        held, waiting = spent.get("Has GIL", 0.0), spent.get("Waiting for GIL", 0.0)
        off = max(0.0, spent.get("Off CPU", 0.0) - waiting)
        native = max(0.0, spent.get("On CPU", 0.0) - held)  # on a CPU without the GIL
        shares[int(thread["tid"])] = {
            "gil_held": held / span,
            "gil_wait": waiting / span,
            "native": native / span,
            "off_cpu": off / span,
        }
    return json.loads(truth_path.read_text()), shares


def truth_text(expected: float | list[float]) -> str:
    if isinstance(expected, list):
        return f"{expected[0]:.2f}-{expected[1]:.2f}"
    return f"{expected:.2f}"


def off_by(share: float | None, expected: float | list[float]) -> float | None:
    """Points outside the truth (0 inside its range)."""
    if share is None:
        return None
    low, high = (expected, expected) if not isinstance(expected, list) else expected
    return 100 * max(0.0, low - share, share - high)


def share_rows(tmp: Path) -> list[str]:
    rows = [
        "| target | thread | state | truth (concdiag's run) | concdiag | truth (sampler's run) "
        "| profiling.sampling |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in TARGETS:
        cd_truth, cd = concdiag_shares(name, tmp)
        ps_truth, ps = sampler_shares(name, tmp)
        for thread, states in sorted(cd_truth["expected"].items()):
            tid = ps_truth["clocks"].get(thread, {}).get("tid")
            ps_states = ps_truth["expected"].get(thread, {})
            for state, expected in states.items():
                mine = cd.get(thread, {}).get(state)
                ps_expected = ps_states.get(state, expected)
                theirs = ps.get(tid, {}).get(state) if tid else None
                note = ""
                if state in OFF_CPU_STATES:
                    # it shows a thread off its CPU, not what it waits on: compare the sum of
                    # the thread's waits that are not the GIL's
                    theirs = ps.get(tid, {}).get("off_cpu") if tid else None
                    ps_expected = sum(float(v) for s, v in ps_states.items() if s in OFF_CPU_STATES)
                    note = " (off CPU, not waiting for the GIL: all its waits)"
                rows.append(
                    f"| {name} | {thread} | {state} | {truth_text(expected)} | "
                    f"{_cell(mine, expected)} | {truth_text(ps_expected)} | "
                    f"{_cell(theirs, ps_expected)}{note} |"
                )
    return rows


def _cell(share: float | None, expected: float | list[float]) -> str:
    if share is None:
        return "–"
    off = off_by(share, expected) or 0.0
    return f"{share:.2f}" + (f" ({off:.0f} pts off)" if off >= 0.5 else " ✓")


# -- slowdown ---------------------------------------------------------------------------------


def timed(mode: str, tmp: Path) -> tuple[float, float]:
    """The fixed work's own elapsed seconds, bare or under a tool, and the CPU seconds of the
    whole command (the target's, and the tool's own: its start-up, sampling and writing)."""
    script, out = tmp / "fixed_work.py", tmp / "elapsed.txt"
    script.write_text(FIXED_WORK)
    target = [str(script), str(out)]
    commands = {
        "bare": [sys.executable, *target],
        "concdiag 100 Hz (default)": [concdiag_exe(), "profile", "-q", "--json",
                                      str(tmp / "fixed.json"), *target],
        "profiling.sampling 1 kHz (default)": [sys.executable, "-m", "profiling.sampling", "run",
                                               "-a", "--pstats", "-o", str(tmp / "f.pstats"),
                                               *target],
        "profiling.sampling 100 Hz": [sys.executable, "-m", "profiling.sampling", "run", "-a",
                                      "-r", "100", "--pstats", "-o", str(tmp / "f100.pstats"),
                                      *target],
    }  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(commands[mode], check=True, cwd=tmp, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return float(out.read_text()), cpu


def slowdown_rows(tmp: Path, reps: int) -> list[str]:
    modes = [
        "bare",
        "concdiag 100 Hz (default)",
        "profiling.sampling 1 kHz (default)",
        "profiling.sampling 100 Hz",
    ]
    runs: dict[str, list[float]] = {m: [] for m in modes}
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    for rep in range(reps):
        for mode in modes if rep % 2 == 0 else list(reversed(modes)):
            elapsed, used = timed(mode, tmp)
            runs[mode].append(elapsed)
            cpu[mode].append(used)
    bare = statistics.median(runs["bare"])
    bare_cpu = statistics.median(cpu["bare"])
    rows = [
        "| run | elapsed s (median) | runs s | slowdown | CPU s beyond the bare run (the tool's) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode in modes:
        median = statistics.median(runs[mode])
        spread = ", ".join(f"{s:.2f}" for s in runs[mode])
        extra = statistics.median(cpu[mode]) - bare_cpu
        rows.append(
            f"| {mode} | {median:.2f} | {spread} | {median / bare:.2f}x | "
            + ("–" if mode == "bare" else f"{extra:.2f}")
            + " |"
        )
    return rows


def write_section(page: Path, body: str) -> None:
    text = page.read_text() if page.exists() else ""
    section = f"{START}\n{body}\n{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    page.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=3, help="interleaved slowdown repetitions")
    parser.add_argument("--out", type=Path, help="a Markdown page to write the tables into")
    args = parser.parse_args()
    if sys.version_info < (3, 15):
        print("peers: profiling.sampling needs Python 3.15 or later", file=sys.stderr)
        return 2
    before = load()
    with tempfile.TemporaryDirectory(prefix="concdiag-peers-") as name:
        tmp = Path(name)
        shares = share_rows(tmp)
        slowdown = slowdown_rows(tmp, args.reps)
    after = load()
    version = sys.version.split()[0]
    body = "\n".join(
        [
            f"Python {version}, {os.cpu_count()} cores, 1-minute load {before:.2f} before and "
            f"{after:.2f} after; one run per target and tool; slowdown over {args.reps} "
            "interleaved repetitions.",
            "",
            *shares,
            "",
            *slowdown,
        ]
    )
    print(body)
    if args.out:
        write_section(args.out, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
