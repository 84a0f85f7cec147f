"""Long-run benchmark: an hour-long, 50-thread, 100 Hz stream through the streaming pipeline.

Feeds a synthetic stream of that size (ticks in 10-second chunks, each with the stacks py-spy
would give for it) through `StreamingAccounting`, builds the profile and its JSON, and prints
concdiag's peak memory (max RSS of this process), the JSON size and the time taken, next to
the bounds the issue sets (300 MB, 20 MB). Timings on a shared machine are noisy.

It then measures the other memory an attach holds at its peak: one py-spy chunk. It writes the
Chrome trace py-spy would write for a chunk of `CHUNK_OBSERVATIONS` thread samples in the worst
case (every thread's innermost frame changes at every sample) and parses it with concdiag's
parser, printing the trace size and the peak memory after parsing.

    python bench/long_run.py [--minutes 60] [--threads 50] [--rate 100]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from concdiag.analysis import RunContext, build_profile
from concdiag.analysis.accounting.streaming import StreamingAccounting
from concdiag.collectors.out_of_process import CHUNK_OBSERVATIONS
from concdiag.collectors.pyspy_trace import TraceReplay
from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import StackChange, TargetInfo, ThreadInfo, ThreadObservation, Tick

PID = 4000
CHUNK_S = 10.0
FUTEX, RECV = 202, 45
#: Each thread cycles through this many distinct stacks (a service's handlers and helpers).
STACKS_PER_THREAD = 12


def _stack(tid: int, k: int) -> tuple[tuple[str, str, int], ...]:
    base = (("<module>", "/srv/app/main.py", 1), ("serve", "/srv/app/server.py", 40))
    leaf = tuple((f"handler_{k}_{d}", f"/srv/app/h{k % 5}.py", 10 * d + tid % 3) for d in range(4))
    return base + leaf


def chunk(
    start_tick: int, ticks: int, threads: list[int], rate: float
) -> tuple[list[Tick], dict[tuple[int, int], list[StackChange]]]:
    out = []
    stacks: dict[tuple[int, int], list[StackChange]] = {}
    for tid in threads:
        changes = []
        for i in range(start_tick, start_tick + ticks, 50):
            changes.append(StackChange(i / rate, _stack(tid, (i // 50 + tid) % STACKS_PER_THREAD)))
        stacks[(PID, tid)] = changes
    for i in range(start_tick, start_tick + ticks):
        holder = threads[i % len(threads)]
        obs = []
        for j, tid in enumerate(threads):
            phase = (i + j) % 10
            if tid == holder:
                obs.append(ThreadObservation(tid, "R", None, False, i // 4))
            elif phase < 3:
                obs.append(ThreadObservation(tid, "S", FUTEX, True, i // 8))
            elif phase < 5:
                obs.append(ThreadObservation(tid, "S", FUTEX, False, i // 8))
            else:
                obs.append(ThreadObservation(tid, "S", RECV, False, i // 8))
        out.append(Tick(i / rate, PID, True, holder, i // 3, i // 2, tuple(obs)))
    return out, stacks


def worst_case_trace(threads: list[int], rate: float) -> list[dict[str, object]]:
    """py-spy's Chrome trace for one chunk where every sample changes every thread's leaf."""
    samples = CHUNK_OBSERVATIONS // len(threads)
    events: list[dict[str, object]] = []
    for tid in threads:
        name = f"thread ({tid}): worker"
        events.append({"ph": "B", "name": name, "pid": PID, "tid": tid, "ts": 0.0, "args": {}})
        for frame in _stack(tid, 0)[:-1]:
            args = {"filename": frame[1], "line": frame[2]}
            events.append(
                {"ph": "B", "name": frame[0], "pid": PID, "tid": tid, "ts": 0.0, "args": args}
            )
        for i in range(samples):
            ts = i * 1e6 / rate
            if i:
                events.append(
                    {
                        "ph": "E",
                        "name": f"leaf_{i - 1}",
                        "pid": PID,
                        "tid": tid,
                        "ts": ts,
                        "args": {},
                    }
                )
            args = {"filename": "/srv/app/leaf.py", "line": i % 500}
            events.append(
                {"ph": "B", "name": f"leaf_{i}", "pid": PID, "tid": tid, "ts": ts, "args": args}
            )
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    threads = [PID + i for i in range(args.threads)]
    target = TargetInfo(PID, "/usr/bin/python3", "3.12.1", "cpython", True, False, 0.005, True, PID)
    recording = RecordingDraft(rate_hz=args.rate, target=target)
    for tid in threads:
        recording.threads[(PID, tid)] = ThreadInfo(PID, tid, f"worker-{tid}", tid, True, tid == PID)
    total_ticks = int(args.minutes * 60 * args.rate)
    per_chunk = int(CHUNK_S * args.rate)
    began = time.perf_counter()
    acc = StreamingAccounting(recording)
    for start in range(0, total_ticks, per_chunk):
        ticks, stacks = chunk(start, min(per_chunk, total_ticks - start), threads, args.rate)
        acc.feed(ticks, stacks)
    fed = time.perf_counter()
    now = datetime.now(timezone.utc)
    ctx = RunContext("attach", ["python", "app.py"], "pid 4000", None, "/srv", now, now, None, None)
    frozen = recording.freeze()
    document = build_profile(frozen, ctx, accounting=acc.finish(frozen)).to_json()
    done = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    observations = total_ticks * args.threads
    print(
        f"stream: {args.minutes:g} min x {args.threads} threads x {args.rate:g} Hz "
        f"= {observations:,} thread observations"
    )
    print(f"peak memory (max RSS): {peak_mb:.0f} MB (bound 300 MB)")
    print(f"profile JSON: {len(document) / 1e6:.2f} MB (bound 20 MB)")
    print(
        f"time: feed {fed - began:.1f} s, analysis + JSON {done - fed:.1f} s; "
        f"{1e6 * (fed - began) / observations:.2f} us per observation "
        "(includes generating the synthetic stream)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        trace.write_text(json.dumps(worst_case_trace(threads, args.rate)))
        size_mb = trace.stat().st_size / 1e6
        replay = TraceReplay(PID, 0.0, {})
        replay.feed(json.loads(trace.read_text()))
        stacks = replay.finish()
    changes = sum(len(c) for c in stacks.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"one py-spy chunk (worst case, {CHUNK_OBSERVATIONS:,} thread samples): trace "
        f"{size_mb:.1f} MB, {changes:,} stack changes parsed; peak memory now {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
