"""Reads what the in-process collector (``inprocess_agent.py``, inside the target) wrote.

The records become the same `Recording` the out-of-process samplers fill, so the analysis
and every renderer work unchanged; only the collectors list says which one ran.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from concdiag.collectors.records import (
    ProcessCounters,
    Recording,
    StackChange,
    ThreadCpu,
    ThreadObservation,
    Tick,
)

#: A thread that used less than this share of the time since the last tick was not busy.
BUSY_SHARE = 0.1
#: During snapshots a thread running only native code keeps this share (or more) of its usual
#: CPU rate: the collector occupies a core and other processes compete for the rest. Measured
#: 0.3 to 0.6 for sample_targets/native_threads.py on a loaded 2-core machine, against 0.00 to
#: 0.05 for pure-Python threads; a thread at this rate (set low, for margin) counts as native.
NATIVE_RATE = 0.2
#: Weight of the all-threads ratio in each thread's estimate, as snapshot CPU (10 ms).
PRIOR_NS = 10e6

#: What the report says this collector cannot see.
LIMITS = (
    "in-process collector (tracing not available): samples from a thread inside the target; "
    "it cannot see spawned or exec'd child processes or native threads' stacks, and its own "
    "stack walks hold the GIL (counted in concdiag's overhead)"
)


def read_inprocess(path: Path, recording: Recording, t0: float) -> dict[int, str]:
    """Fill ``recording`` from the file; returns thread names by OS id."""
    names: dict[int, str] = {}
    stack_records: list[tuple[float, int, int, tuple[tuple[str, str, int], ...]]] = []
    raw_ticks: list[list[Any]] = []
    probes: list[tuple[int, float, float]] = []
    ticks: list[Tick] = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        recording.notes.append("the in-process collector wrote nothing")
        return names
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # a line cut short by a killed target
        kind = record[0]
        if kind == "t":
            raw_ticks.append(record)
        elif kind == "s":
            _, t, pid, tid, stack = record
            frames = tuple((str(f[0]), str(f[1]), int(f[2])) for f in stack)
            stack_records.append((t, pid, tid, frames))
        elif kind == "c":
            _, t, pid, ppid, user, system, vol, invol, rss, nthreads = record
            recording.counters.append(
                ProcessCounters(t - t0, pid, ppid, user, system, vol, invol, rss, nthreads)
            )
            recording.commands.setdefault(pid, [])
        elif kind == "tc":
            _, pid, tid, name, user, system = record
            recording.thread_cpu[(pid, tid)] = ThreadCpu(pid, tid, user, system)
            names[tid] = str(name)
        elif kind == "self":
            recording.sampler_cpu_s += float(record[2])
        elif kind == "probe":
            probes.append((int(record[2]), float(record[3]), float(record[4])))
    ticks = split_python_native(raw_ticks)
    _regrid(ticks, stack_records, recording, t0)
    count = sum(p[0] for p in probes)
    if count:
        mean_ms = sum(p[1] for p in probes) / count
        p95_ms = max(p[2] for p in probes)
        recording.notes.append(
            f"GIL latency probe: a 2 ms sleep woke {mean_ms:.2f} ms late on average "
            f"(95th percentile up to {p95_ms:.2f} ms) over {count} probes"
        )
    return names


def _regrid(
    ticks: list[Tick],
    stack_records: list[tuple[float, int, int, tuple[tuple[str, str, int], ...]]],
    recording: Recording,
    t0: float,
) -> None:
    """Put each process's ticks on an even grid at the rate the sampler achieved.

    The sampler needs the GIL to wake up, so under GIL contention its ticks come late; each
    snapshot still stands for an equal share of the time, so the run's rate becomes the
    achieved one and ticks are evenly spaced (stack changes move with their tick).
    """
    by_pid: dict[int, list[Tick]] = {}
    for tick in sorted(ticks, key=lambda tick: tick.t_s):
        by_pid.setdefault(tick.pid, []).append(tick)
    root = by_pid.get(recording.target.pid) or next(iter(by_pid.values()), [])
    if len(root) >= 2:
        achieved_hz = (len(root) - 1) / max(root[-1].t_s - root[0].t_s, 1e-9)
        if achieved_hz < recording.rate_hz * 0.95:
            recording.notes.append(
                f"the in-process sampler achieved {achieved_hz:.0f} Hz of the "
                f"{recording.rate_hz:g} Hz asked (it waits for the GIL to wake up)"
            )
            recording.rate_hz = min(recording.rate_hz, achieved_hz)
    interval = 1.0 / recording.rate_hz
    moved: dict[tuple[int, float], float] = {}
    for pid, series in by_pid.items():
        first = series[0].t_s - t0
        for i, tick in enumerate(series):
            t_s = first + i * interval
            moved[(pid, tick.t_s)] = t_s
            recording.ticks.append(
                Tick(
                    t_s,
                    tick.pid,
                    tick.gil_locked,
                    tick.gil_holder_tid,
                    tick.gil_switches,
                    tick.process_cpu_ticks,
                    tick.threads,
                )
            )
    recording.ticks.sort(key=lambda tick: tick.t_s)
    for t, pid, tid, frames in stack_records:
        t_s = moved.get((pid, t), t - t0)
        recording.stacks.setdefault((pid, tid), []).append(StackChange(t_s, frames))


def split_python_native(raw_ticks: list[list[Any]]) -> list[Tick]:
    """Turn the collector's snapshots into ticks with a GIL holder, weighing CPU clocks.

    Each snapshot is taken while the collector holds the GIL. A thread running native code
    keeps using CPU during snapshots in proportion to how busy it is overall; a thread running
    Python uses none (it waits for the GIL). So per thread, over the whole run,
    ``native_share = (CPU during snapshots / snapshot time) / (CPU / elapsed time)``. Each busy
    moment of the thread is then native or Python in that proportion (deterministically,
    by accumulating the share); of the Python ones at a tick, the busiest is the GIL's holder
    (the collector took the GIL from it) and the others wait for it. Runnable threads that
    were not busy are queueing for the GIL if they mostly run Python, else for a CPU.
    """
    during: dict[tuple[int, int], float] = defaultdict(float)
    window: dict[tuple[int, int], float] = defaultdict(float)
    ran: dict[tuple[int, int], float] = defaultdict(float)
    elapsed: dict[tuple[int, int], float] = defaultdict(float)
    for record in raw_ticks:
        pid, observations, (elapsed_ns, window_ns, gil_kept, _gil) = (
            record[2],
            record[7],
            record[8],
        )
        for o in observations:
            if o[5] is None or not elapsed_ns:
                continue
            key = (pid, o[0])
            ran[key] += max(0, o[5])
            elapsed[key] += elapsed_ns
            if gil_kept:
                during[key] += max(0, o[6])
                window[key] += window_ns
    # CPU each thread would have used during snapshots were it running only native code,
    # against what it used. Thread CPU clocks tick coarsely (a few ms), so a thread's own
    # count is small and noisy; it is shrunk toward the ratio over all threads.
    expected = {
        key: (ran_ns / elapsed[key]) * window[key] * NATIVE_RATE if elapsed[key] else 0.0
        for key, ran_ns in ran.items()
    }
    total_expected = sum(expected.values())
    pooled = sum(during.values()) / total_expected if total_expected > 0 else 0.0
    native_share: dict[tuple[int, int], float] = {}
    for key in ran:
        if expected[key] <= 0:
            native_share[key] = 0.0
            continue
        ratio = (during[key] + PRIOR_NS * pooled) / (expected[key] + PRIOR_NS)
        native_share[key] = min(1.0, ratio)
    credit: dict[tuple[int, int], float] = defaultdict(float)
    ticks = []
    for record in raw_ticks:
        t, pid, pcpu, observations, (elapsed_ns, _w, _kept, gil_known) = (
            record[1],
            record[2],
            record[6],
            record[7],
            record[8],
        )
        python_busy = []
        native_busy = set()
        for o in observations:
            if o[5] is None or not elapsed_ns or o[5] <= BUSY_SHARE * elapsed_ns:
                continue
            if o[1] != "R" and not o[3]:
                continue  # blocked elsewhere now (I/O, a lock): its busy moment has passed
            key = (pid, o[0])
            credit[key] += native_share.get(key, 0.0)
            if credit[key] >= 0.5:
                credit[key] -= 1.0
                native_busy.add(o[0])
            else:
                python_busy.append((o[5], o[0]))
        holder = max(python_busy)[1] if python_busy else None
        obs = []
        for o in observations:
            tid, state, syscall, on_gil = int(o[0]), str(o[1]), o[2], bool(o[3])
            if tid == holder or tid in native_busy:
                state, syscall, on_gil = "R", None, False
            elif o[5] is not None and (
                on_gil or (state == "R" and native_share.get((pid, tid), 0.0) < 0.5)
            ):
                # Parked on the GIL, or runnable in a thread that mostly runs Python: waiting
                # for the GIL. A runnable thread that mostly runs native code stays native.
                state, syscall, on_gil = "S", None, True
            obs.append(ThreadObservation(tid, state, syscall, on_gil, int(o[4])))
        locked = (holder is not None) if gil_known else None
        ticks.append(Tick(t, pid, locked, holder, None, pcpu, tuple(obs)))
    return ticks
