"""Per-thread time accounting: from ticks and stacks to states, hot code and timelines.

Each tick of each thread is one sample of ``1/rate`` seconds. A thread's share of a state is
its samples in that state over its samples alive; missed ticks (late sampler, unreadable
files) fall into ``unknown`` so the shares always cover the whole alive time.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from concdiag.analysis.states import (
    classify,
    is_coordination,
    is_sleep,
    pool_overhead,
    resolve_handoffs,
    resolve_starved,
)
from concdiag.collectors.records import Recording, StackChange, ThreadObservation, Tick
from concdiag.model import (
    STATE_KEYS,
    Frame,
    GilStats,
    HotFunction,
    Lane,
    ProcessProfile,
    StackCount,
    States,
    Summary,
    ThreadProfile,
    Timeline,
)
from concdiag.redact import mask_args

MAX_TIMELINE_BINS = 240
HOT_FUNCTIONS_PER_THREAD = 12
COORDINATOR_SHARE = 0.6

StackKey = tuple[tuple[str, str, int], ...]


@dataclass
class _ThreadAcc:
    pid: int
    tid: int
    counts: Counter[str] = field(default_factory=Counter)
    coordination: int = 0
    sleep: int = 0
    overhead: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, state)
    samples: int = 0
    first_s: float = float("inf")
    last_s: float = 0.0
    leaf: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    leaf_states: dict[tuple[str, str, int], Counter[str]] = field(default_factory=dict)
    stacks: Counter[tuple[StackKey, str]] = field(default_factory=Counter)
    bins: dict[int, Counter[str]] = field(default_factory=dict)

    def add(
        self,
        t_s: float,
        b: int,
        state: str,
        obs: ThreadObservation,
        frames: StackKey,
    ) -> None:
        """Count one sample of this thread: its state, bin, wait kind and stack."""
        self.samples += 1
        self.counts[state] += 1
        self.first_s = min(self.first_s, t_s)
        self.last_s = max(self.last_s, t_s)
        self.bins.setdefault(b, Counter())[state] += 1
        if state in ("sync", "io") and is_coordination(frames):
            self.coordination += 1
        if state == "io" and is_sleep(obs):
            self.sleep += 1
        if state in ("gil_held", "native") and frames:
            overhead = pool_overhead(frames)
            if overhead is not None:
                self.overhead[(overhead, state)] += 1
        if frames:
            leaf = frames[-1]
            self.leaf[leaf] += 1
            self.leaf_states.setdefault(leaf, Counter())[state] += 1
            self.stacks[(frames, state)] += 1


@dataclass
class Accounting:
    """Everything the verdict and renderers need, derived from one recording."""

    processes: list[ProcessProfile]
    summary: Summary
    timeline: Timeline
    frames: list[Frame]
    stacks: list[StackCount]
    coordination_s: float
    sleep_s: float
    lock_sync_s: float
    worker_threads: int
    side_workers: int  # worker threads other than each process's main thread
    samples: int
    wall_s: float
    asyncio_seen: bool
    child_python_processes: int
    files_seen: set[str]
    #: CPU seconds Python threads spent in pool machinery, by kind and by state:
    #: {"serialise": {"gil_held": s, "native": s}, "dispatch": {...}}.
    pool_overhead_s: dict[str, dict[str, float]] = field(default_factory=dict)
    #: The root process's main thread ran an asyncio event loop.
    asyncio_main: bool = False


class _StackCursor:
    """The stack a thread had at time t, for monotonically increasing t."""

    def __init__(self, changes: list[StackChange]) -> None:
        self.times = [c.t_s for c in changes]
        self.changes = changes

    def at(self, t_s: float) -> StackKey:
        i = bisect.bisect_right(self.times, t_s) - 1
        if i < 0:
            return ()
        return self.changes[i].frames


def analyse(recording: Recording, start_s: float = 0.0) -> Accounting:
    """Account every sampled tick at or after ``start_s`` (when the target's code began)."""
    ticks = [t for t in recording.ticks if t.t_s >= start_s]
    interval = 1.0 / recording.rate_hz
    gil_enabled = recording.target.gil_enabled
    end_s = max((t.t_s for t in ticks), default=start_s) + interval
    wall_s = max(end_s - start_s, interval)
    bin_s = _bin_width(wall_s)
    nbins = max(1, int(wall_s / bin_s + 0.999))

    cursors = {key: _StackCursor(ch) for key, ch in recording.stacks.items()}
    threads: dict[tuple[int, int], _ThreadAcc] = {}
    gil_counts: dict[int, Counter[str]] = defaultdict(Counter)
    switches: dict[int, list[int]] = defaultdict(list)
    proc_cpu: dict[int, list[tuple[float, int]]] = defaultdict(list)
    bin_gil: list[Counter[str]] = [Counter() for _ in range(nbins)]
    bin_cpu_ticks = [0.0] * nbins
    asyncio_seen = asyncio_main = False
    files_seen: set[str] = set()

    classified = _classify_all(recording, ticks, gil_enabled)
    root_pid = recording.target.pid
    position: Counter[tuple[int, int]] = Counter()
    for tick in ticks:
        b = min(nbins - 1, int((tick.t_s - start_s) / bin_s))
        _account_gil(tick, gil_counts[tick.pid], bin_gil[b], switches[tick.pid])
        proc_cpu[tick.pid].append((tick.t_s, tick.process_cpu_ticks))
        for obs in tick.threads:
            key = (tick.pid, obs.tid)
            acc = threads.get(key)
            if acc is None:
                acc = threads[key] = _ThreadAcc(tick.pid, obs.tid)
            state = classified[key][position[key]]
            position[key] += 1
            cursor = cursors.get(key)
            frames = cursor.at(tick.t_s) if cursor is not None else ()
            acc.add(tick.t_s, b, state, obs, frames)
            if frames:
                if (not asyncio_seen or not asyncio_main) and any(
                    "/asyncio/" in f[1] for f in frames
                ):
                    asyncio_seen = True
                    asyncio_main = asyncio_main or key == (root_pid, root_pid)
                files_seen.update(f[1] for f in frames)

    _add_unknown_for_missed_ticks(threads, ticks, interval)
    for series in proc_cpu.values():
        _spread_cpu(series, start_s, bin_s, bin_cpu_ticks)

    from concdiag.collectors.procfs import CLOCK_TICKS_HZ

    processes_of = functools.partial(
        _processes, recording, gil_counts=gil_counts, switches=switches, start_s=start_s
    )
    cores = [min(ticks_ / CLOCK_TICKS_HZ / bin_s, 64.0) for ticks_ in bin_cpu_ticks]
    gil_series: list[float | None] = []
    for c in bin_gil:
        measured = c["held"] + c["free"]
        gil_series.append(c["held"] / measured if measured else None)
    return assemble(
        recording,
        threads,
        start_s=start_s,
        wall_s=wall_s,
        bin_s=bin_s,
        lane_of=lambda acc, name: _lane(acc, name, nbins, bin_s, interval),
        processes_of=processes_of,
        cores=cores,
        gil_series=gil_series,
        asyncio_seen=asyncio_seen,
        asyncio_main=asyncio_main,
        files_seen=files_seen,
    )


def assemble(
    recording: Recording,
    threads: dict[tuple[int, int], _ThreadAcc],
    *,
    start_s: float,
    wall_s: float,
    bin_s: float,
    lane_of: Callable[[_ThreadAcc, str], Lane],
    processes_of: Callable[[dict[int, list[ThreadProfile]]], list[ProcessProfile]],
    cores: list[float],
    gil_series: list[float | None],
    asyncio_seen: bool,
    asyncio_main: bool,
    files_seen: set[str],
) -> Accounting:
    """Per-thread counters to the profile's threads, summary and timeline.

    Shared by the batch analysis and the streaming one, which differ only in how they
    gathered the counters, the lanes and the per-process figures.
    """
    interval = 1.0 / recording.rate_hz
    frames_table: list[Frame] = []
    frame_index: dict[tuple[str, str, int], int] = {}
    stack_counts: list[StackCount] = []
    thread_profiles: dict[int, list[ThreadProfile]] = defaultdict(list)
    summary_seconds = States()
    worker_seconds = States()
    coordination_s = sleep_s = lock_sync_s = 0.0
    overhead_s: dict[str, dict[str, float]] = {}
    worker_threads = side_workers = 0
    lanes: list[Lane] = []

    for key in sorted(threads):
        acc = threads[key]
        info = recording.threads.get(key)
        alive_s = acc.samples * interval
        counts = {k: float(acc.counts.get(k, 0)) for k in STATE_KEYS}
        total = sum(counts.values()) or 1.0
        shares = States(**{k: counts[k] / total for k in STATE_KEYS})
        seconds = shares.scaled(alive_s)
        coordination_share = acc.coordination / total
        python = info.python if info is not None else False
        busy = shares.gil_held + shares.native + shares.gil_wait
        if coordination_share >= COORDINATOR_SHARE:
            role = "coordinator"
        elif busy + shares.io + shares.sync - coordination_share < 0.05:
            role = "idle"
        else:
            role = "worker"
        cpu = recording.thread_cpu.get(key)
        if python:
            summary_seconds = summary_seconds.plus(seconds)
            coordination_s += acc.coordination * interval
            for (kind, state), count in acc.overhead.items():
                by_state = overhead_s.setdefault(kind, {})
                by_state[state] = by_state.get(state, 0.0) + count * interval
            sleep_s += acc.sleep * interval
            worker = _without_coordination(counts, acc, interval)
            worker_seconds = worker_seconds.plus(worker)
            lock_sync_s += worker.sync
            if role == "worker":
                worker_threads += 1
                side_workers += int(acc.tid != acc.pid)
        for (stack, state), count in acc.stacks.items():
            ids = []
            for frame in stack:
                if frame not in frame_index:
                    frame_index[frame] = len(frames_table)
                    frames_table.append(Frame(*frame))
                ids.append(frame_index[frame])
            stack_counts.append(StackCount(acc.pid, acc.tid, state, ids, count))
        name = info.name if info is not None else f"thread-{acc.tid}"
        thread_profiles[acc.pid].append(
            ThreadProfile(
                tid=acc.tid,
                name=name,
                python=python,
                is_main=acc.tid == acc.pid,
                first_seen_s=acc.first_s - start_s,
                last_seen_s=acc.last_s + interval - start_s,
                wall_s=alive_s,
                cpu_user_s=cpu.user_s if cpu else 0.0,
                cpu_system_s=cpu.system_s if cpu else 0.0,
                samples=acc.samples,
                on_cpu_share=shares.gil_held + shares.native,
                gil_held_share=shares.gil_held,
                states=shares,
                state_seconds=seconds,
                role=role,
                hot_functions=_hot_functions(acc),
                ident=info.ident if info is not None else None,
            )
        )
        lanes.append(lane_of(acc, name))

    processes = processes_of(thread_profiles)
    timeline = Timeline(
        bin_s=bin_s,
        t_s=[i * bin_s for i in range(len(cores))],
        cores_used=cores,
        gil_utilisation=gil_series,
        lanes=lanes,
    )
    cpu_s = sum(p.cpu_user_s + p.cpu_system_s for p in processes)
    root = next((p for p in processes if p.is_root), None)
    worker_total = sum(worker_seconds.get(k) for k in STATE_KEYS) or 1.0
    ctx = sum(p.ctx_switches_voluntary + p.ctx_switches_involuntary for p in processes)
    summary = Summary(
        wall_s=wall_s,
        python_threads=sum(1 for ps in thread_profiles.values() for t in ps if t.python),
        processes=len(processes),
        thread_seconds=summary_seconds,
        worker_seconds=worker_seconds,
        cpu_s=cpu_s,
        cores_used_mean=cpu_s / wall_s if wall_s else 0.0,
        cores_used_peak=max(cores, default=0.0),
        gil_utilisation=root.gil.utilisation if root is not None else None,
        gil_wait_share=worker_seconds.gil_wait / worker_total,
        ctx_switches_per_s=ctx / wall_s if wall_s else 0.0,
    )
    child_python = sum(1 for p in processes if not p.is_root and any(t.python for t in p.threads))
    return Accounting(
        processes=processes,
        summary=summary,
        timeline=timeline,
        frames=frames_table,
        stacks=stack_counts,
        coordination_s=coordination_s,
        sleep_s=sleep_s,
        lock_sync_s=lock_sync_s,
        worker_threads=worker_threads,
        side_workers=side_workers,
        samples=sum(a.samples for a in threads.values()),
        wall_s=wall_s,
        asyncio_seen=asyncio_seen,
        child_python_processes=child_python,
        files_seen=files_seen,
        pool_overhead_s=overhead_s,
        asyncio_main=asyncio_main,
    )


def _classify_all(
    recording: Recording, ticks: list[Tick], gil_enabled: bool
) -> dict[tuple[int, int], list[str]]:
    """Each thread's state at each of its ticks, in order, with GIL hand-offs resolved."""
    states: dict[tuple[int, int], list[str]] = defaultdict(list)
    switch_numbers: dict[tuple[int, int], list[int | None]] = defaultdict(list)
    cpu_ticks: dict[tuple[int, int], list[int]] = defaultdict(list)
    for tick in ticks:
        for obs in tick.threads:
            key = (tick.pid, obs.tid)
            state = classify(obs, tick, gil_enabled)
            info = recording.threads.get(key)
            if info is not None and not info.python and state == "gil_held":
                state = "native"  # a native-only thread cannot hold the GIL
            states[key].append(state)
            switch_numbers[key].append(tick.gil_switches)
            cpu_ticks[key].append(obs.cpu_ticks)
    for key, sequence in states.items():
        info = recording.threads.get(key)
        if info is not None and info.python:
            if gil_enabled:
                resolve_handoffs(sequence, switch_numbers[key])
            resolve_starved(sequence, cpu_ticks[key])
    return states


def _bin_width(wall_s: float) -> float:
    """A round bin width giving at most MAX_TIMELINE_BINS bins."""
    for width in (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if wall_s / width <= MAX_TIMELINE_BINS:
            return float(width)
    return wall_s / MAX_TIMELINE_BINS


def _account_gil(tick: Tick, counts: Counter[str], bin_counts: Counter[str], sw: list[int]) -> None:
    if tick.gil_locked is None:
        return
    state = "held" if tick.gil_locked else "free"
    counts[state] += 1
    bin_counts[state] += 1
    if tick.gil_switches is not None:
        sw.append(tick.gil_switches)


def _add_unknown_for_missed_ticks(
    threads: dict[tuple[int, int], _ThreadAcc], ticks: list[Tick], interval: float
) -> None:
    """Where the sampler fell behind, a thread alive on both sides was unobserved: unknown."""
    by_pid: dict[int, list[float]] = defaultdict(list)
    for tick in ticks:
        by_pid[tick.pid].append(tick.t_s)
    for acc in threads.values():
        times = by_pid.get(acc.pid, [])
        lo = bisect.bisect_left(times, acc.first_s)
        hi = bisect.bisect_right(times, acc.last_s)
        span = times[lo:hi]
        missed = 0
        for a, b in itertools.pairwise(span):
            gap = round((b - a) / interval) - 1
            if gap > 0:
                missed += gap
        if missed:
            acc.counts["unknown"] += missed
            acc.samples += missed


def _spread_cpu(
    series: list[tuple[float, int]], start_s: float, bin_s: float, bins: list[float]
) -> None:
    for (t_a, c_a), (t_b, c_b) in itertools.pairwise(series):
        delta = c_b - c_a
        if delta <= 0:
            continue
        b = min(len(bins) - 1, int(((t_a + t_b) / 2 - start_s) / bin_s))
        bins[b] += delta


def _without_coordination(counts: dict[str, float], acc: _ThreadAcc, interval: float) -> States:
    """The thread's seconds per state, minus the time it spent waiting for other workers."""
    seconds = {k: counts[k] * interval for k in STATE_KEYS}
    coordination = acc.coordination * interval
    # Coordination waits are sync or io samples; take them from sync first, then io.
    take = min(coordination, seconds["sync"])
    seconds["sync"] -= take
    seconds["io"] = max(0.0, seconds["io"] - (coordination - take))
    return States(**seconds)


def _hot_functions(acc: _ThreadAcc) -> list[HotFunction]:
    total = sum(acc.leaf.values()) or 1
    hot = []
    for (function, filename, line), count in acc.leaf.most_common(HOT_FUNCTIONS_PER_THREAD):
        states = acc.leaf_states[(function, filename, line)]
        hot.append(
            HotFunction(
                function=function,
                file=filename,
                line=line,
                samples=count,
                share=count / total,
                states={k: int(states.get(k, 0)) for k in STATE_KEYS if states.get(k)},
            )
        )
    return hot


def _lane(acc: _ThreadAcc, name: str, nbins: int, bin_s: float, interval: float) -> Lane:
    per_bin = bin_s / interval
    shares: dict[str, list[float]] = {k: [0.0] * nbins for k in STATE_KEYS}
    for b, counts in acc.bins.items():
        for k, v in counts.items():
            shares[k][b] = min(1.0, v / per_bin)
    return Lane(pid=acc.pid, tid=acc.tid, name=name, shares=shares)


def _processes(
    recording: Recording,
    thread_profiles: dict[int, list[ThreadProfile]],
    gil_counts: dict[int, Counter[str]],
    switches: dict[int, list[int]],
    start_s: float,
) -> list[ProcessProfile]:
    by_pid: dict[int, list[float]] = defaultdict(list)
    for tick in recording.ticks:
        if tick.t_s >= start_s:
            by_pid[tick.pid].append(tick.t_s)
    spans = {}
    for pid in thread_profiles:
        times = by_pid.get(pid, [start_s])
        counts = gil_counts.get(pid, Counter())
        sw = switches.get(pid, [])
        spans[pid] = ProcessSpan(
            first_s=times[0],
            last_s=times[-1],
            gil_held=counts["held"],
            gil_measured=counts["held"] + counts["free"],
            switches=(sw[-1] - sw[0]) if len(sw) >= 2 else None,
        )
    return process_profiles(recording, thread_profiles, spans, start_s)


@dataclass(frozen=True, slots=True)
class ProcessSpan:
    """What the ticks said of one process: when it was seen, and its GIL samples."""

    first_s: float
    last_s: float
    gil_held: int
    gil_measured: int
    switches: int | None  # forced GIL switches between its first and last tick


def process_profiles(
    recording: Recording,
    thread_profiles: dict[int, list[ThreadProfile]],
    spans: dict[int, ProcessSpan],
    start_s: float,
) -> list[ProcessProfile]:
    """The profile's processes, root first; shared by the batch and streaming analyses."""
    last_counters = {}
    rss_peak: Counter[int] = Counter()
    for c in recording.counters:
        last_counters[c.pid] = c
        rss_peak[c.pid] = max(rss_peak[c.pid], c.rss_bytes)
    interval = 1.0 / recording.rate_hz
    processes = []
    root_pid = recording.target.pid
    for pid in sorted(thread_profiles, key=lambda p: (p != root_pid, p)):
        threads = thread_profiles[pid]
        span = spans.get(pid) or ProcessSpan(start_s, start_s, 0, 0, None)
        measured = span.gil_measured
        gil_wait_s = sum(t.state_seconds.gil_wait for t in threads)
        nswitch = span.switches
        p_wall = (span.last_s - span.first_s) + interval
        counters = last_counters.get(pid)
        processes.append(
            ProcessProfile(
                pid=pid,
                ppid=counters.ppid if counters else None,
                command=mask_args(recording.commands.get(pid, [])),
                is_root=pid == root_pid,
                python=any(t.python for t in threads),
                first_seen_s=span.first_s - start_s,
                last_seen_s=span.last_s + interval - start_s,
                wall_s=p_wall,
                cpu_user_s=counters.cpu_user_s if counters else 0.0,
                cpu_system_s=counters.cpu_system_s if counters else 0.0,
                ctx_switches_voluntary=counters.ctx_voluntary if counters else 0,
                ctx_switches_involuntary=counters.ctx_involuntary if counters else 0,
                rss_peak_bytes=rss_peak.get(pid, 0),
                gil=GilStats(
                    enabled=recording.target.gil_enabled,
                    measured=measured > 0,
                    utilisation=span.gil_held / measured if measured else None,
                    wait_s=gil_wait_s,
                    mean_waiting_threads=gil_wait_s / p_wall if p_wall else 0.0,
                    switches=nswitch,
                    mean_wait_ms=(gil_wait_s / nswitch * 1000) if nswitch else None,
                    switch_interval_s=recording.target.switch_interval_s,
                ),
                threads=threads,
            )
        )
    return processes
