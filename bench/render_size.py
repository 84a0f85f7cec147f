"""How big and how slow is the HTML report of a long, busy run?

Builds a synthetic recording of a 60-second run with 50 threads sampled at 100 Hz (each
thread cycling through states and through a few dozen distinct stacks), analyses it, then
renders every format and prints sizes and times. No pass/fail: figures to compare between
changes, taken side by side in one run. Timings on a shared machine are noisy.

    python bench/render_size.py [--threads 50] [--seconds 60] [--rate 100] [--out DIR]
                                [--browser /usr/bin/chromium]

With --browser, also opens the HTML report in that Chromium (through Playwright) and
prints first contentful paint and the load event, after the flame graph has been drawn.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from concdiag.analysis import RunContext, replay_profile
from concdiag.recording.recording import Recording, RecordingDraft
from concdiag.recording.records import (
    CollectorNote,
    StackChange,
    TargetInfo,
    ThreadInfo,
    ThreadObservation,
    Tick,
)
from concdiag.render import FORMATS, get_renderer

PID = 4000
FUTEX, RECV, SLEEP = 202, 45, 230


def synthetic_recording(threads: int, seconds: float, rate_hz: float, seed: int = 1) -> Recording:
    rng = random.Random(seed)
    target = TargetInfo(
        pid=PID,
        executable="/usr/bin/python3",
        version="3.12.3",
        implementation="cpython",
        gil_enabled=True,
        free_threaded_build=False,
        switch_interval_s=0.005,
        gil_found=True,
        main_tid=PID,
    )
    rec = RecordingDraft(rate_hz=rate_hz, target=target)
    observed: list[Tick] = []
    stacks: dict[tuple[int, int], list[StackChange]] = {}
    modules = [f"/srv/app/pkg{m}/module{m}.py" for m in range(12)]
    functions = [(f"func_{i}", rng.choice(modules), rng.randint(1, 900)) for i in range(160)]
    base = (("<module>", "/srv/app/main.py", 1), ("main", "/srv/app/main.py", 40))
    worker = (
        ("_bootstrap", "/usr/lib/python3.12/threading.py", 1012),
        ("_bootstrap_inner", "/usr/lib/python3.12/threading.py", 1075),
        ("run", "/usr/lib/python3.12/threading.py", 1012),
    )
    shapes = [tuple(rng.sample(functions, rng.randint(3, 18))) for _ in range(60)]
    tids = [PID + i for i in range(threads)]
    ticks = int(seconds * rate_hz)
    for tid in tids:
        name = "MainThread" if tid == PID else f"worker-{tid - PID}"
        rec.threads[(PID, tid)] = ThreadInfo(PID, tid, name, tid, True, tid == PID)
        prefix = base if tid == PID else worker
        changes = []
        t = 0.0
        while t < seconds:
            changes.append(StackChange(t, prefix + rng.choice(shapes)))
            t += rng.uniform(0.05, 0.8)
        stacks[(PID, tid)] = changes
    cpu = dict.fromkeys(tids, 0)
    for i in range(ticks):
        holder = tids[rng.randrange(len(tids))] if rng.random() < 0.8 else None
        obs = []
        for tid in tids:
            if tid == holder:
                code = "H"
            else:
                code = rng.choice("WWWNIISL")
            if code in "HN":
                cpu[tid] += 1
            state = "R" if code in "HN" else "S"
            syscall = {"W": FUTEX, "L": FUTEX, "I": RECV, "S": SLEEP}.get(code)
            obs.append(ThreadObservation(tid, state, syscall, code == "W", cpu[tid]))
        observed.append(
            Tick(
                t_s=i / rate_hz,
                pid=PID,
                gil_locked=holder is not None,
                gil_holder_tid=holder,
                gil_switches=i // 3,
                process_cpu_ticks=sum(cpu.values()),
                threads=tuple(obs),
            )
        )
    rec.duration_s = ticks / rate_hz
    return rec.freeze(observed, stacks)


def context() -> RunContext:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return RunContext(
        mode="launch",
        command=["python", "/srv/app/main.py", "--workers", "50"],
        target="/srv/app/main.py",
        target_file=None,
        cwd="/srv/app",
        started_at=now,
        ended_at=now,
        exit_code=0,
        exit_signal=None,
        collectors=[CollectorNote("procfs", True, "bench"), CollectorNote("py-spy", True, "bench")],
        cpu_count=8,
    )


def browser_timings(html: str, chromium: str) -> dict[str, float]:
    """Milliseconds to first contentful paint and to the load event, median of three loads."""
    from playwright.sync_api import sync_playwright

    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "report.html"
        page_path.write_text(html, encoding="utf-8")
        runs: list[dict[str, float]] = []
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(Path(tmp) / "profile"),
                executable_path=chromium,
                args=args,
                headless=True,
                viewport={"width": 1280, "height": 800},
                offline=True,
            )
            for _ in range(3):
                page = context.new_page()
                page.goto(page_path.as_uri())
                page.wait_for_load_state("load")
                runs.append(
                    page.evaluate(
                        """async () => {
                          await new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
                          const nav = performance.getEntriesByType('navigation')[0];
                          const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                          return {fcp_ms: fcp ? fcp.startTime : -1, load_ms: nav.loadEventEnd};
                        }"""
                    )
                )
                page.close()
            context.close()
    return {k: sorted(r[k] for r in runs)[1] for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--out", type=Path, help="also write the rendered files here")
    parser.add_argument("--browser", metavar="CHROMIUM", help="also time the report in Chromium")
    args = parser.parse_args()

    t0 = time.perf_counter()
    rec = synthetic_recording(args.threads, args.seconds, args.rate)
    t1 = time.perf_counter()
    profile = replay_profile(rec, context())
    t2 = time.perf_counter()
    print(
        f"synthetic run: {args.threads} threads, {args.seconds:g} s at {args.rate:g} Hz, "
        f"{len(profile.stacks)} distinct stacks, {len(profile.frames)} frames"
    )
    print(f"  build recording {t1 - t0:.2f} s, analyse {t2 - t1:.2f} s")
    print(f"{'format':<14}{'bytes':>12}{'KiB':>10}{'render s':>10}")
    html = ""
    for fmt in FORMATS:
        renderer = get_renderer(fmt)
        start = time.perf_counter()
        text = renderer.render(profile)
        if fmt == "html":
            html = text
        elapsed = time.perf_counter() - start
        size = len(text.encode("utf-8"))
        print(f"{fmt:<14}{size:>12}{size / 1024:>10.1f}{elapsed:>10.3f}")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"bench{renderer.extension}").write_text(text, encoding="utf-8")
    if args.browser:
        timings = browser_timings(html, args.browser)
        print(
            f"chromium: first contentful paint {timings['fcp_ms']:.0f} ms, "
            f"load event (flame graph drawn) {timings['load_ms']:.0f} ms (median of 3)"
        )
    print("(timings from one run on a possibly shared machine: noisy)")


if __name__ == "__main__":
    main()
