"""From counters to the profile's threads, processes, summary and timeline.

The accounting gathers counters while ticks stream by; this module turns what it gathered
into the model's figures once, at the end. Nothing here reads a tick.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from concdiag.analysis.accounting.clock_figures import (
    ThreadClockFigures,
    clock_check,
    thread_figures,
)
from concdiag.analysis.accounting.result import Accounting
from concdiag.analysis.accounting.tally import ProcessTally, ThreadCounters
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
from concdiag.recording.recording import Recording
from concdiag.redact import mask_args

HOT_FUNCTIONS_PER_THREAD = 12
#: A thread whose samples are this share (or more) waits for other workers is a coordinator
#: (a main thread joining its pool): a stated choice, a clear majority of its life.
COORDINATOR_SHARE = 0.6
#: A thread busy (or waiting on work of its own) for less than this share of its life is idle.
IDLE_THREAD_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class TimelineSeries:
    """The run's timeline at its final bin width, ready for the model."""

    bin_s: float
    lanes: dict[tuple[int, int], dict[str, list[float]]]
    cores: list[float]
    gil: list[float | None]


def assemble(
    recording: Recording,
    threads: dict[tuple[int, int], ThreadCounters],
    processes: dict[int, ProcessTally],
    *,
    start_s: float,
    wall_s: float,
    series: TimelineSeries,
    asyncio_seen: bool,
    asyncio_main: bool,
    files_seen: set[str],
) -> Accounting:
    """Per-thread and per-process counters to the profile's threads, summary and timeline."""
    interval = 1.0 / recording.rate_hz
    frames_table: list[Frame] = []
    frame_index: dict[tuple[str, str, int], int] = {}
    stack_counts: list[StackCount] = []
    thread_profiles: dict[int, list[ThreadProfile]] = defaultdict(list)
    summary_seconds = States()
    worker_seconds = States()
    coordination_s = sleep_s = lock_sync_s = 0.0
    overhead_s: dict[str, dict[str, float]] = {}
    overhead_in_workers_s = 0.0
    serial_cpu_s = {"gil_held": 0.0, "native": 0.0}
    worker_threads = side_workers = 0
    lanes: list[Lane] = []
    task_bins = {b for acc in threads.values() for b, c in acc.flags.items() if c["task"]}
    clock_figures: dict[tuple[int, int], ThreadClockFigures] = {}
    worker_variance = States()

    for key in sorted(threads):
        acc = threads[key]
        info = recording.threads.get(key)
        alive_s = acc.samples * interval
        counts = {k: float(acc.counts.get(k, 0)) for k in STATE_KEYS}
        total = sum(counts.values()) or 1.0
        shares = States(**{k: counts[k] / total for k in STATE_KEYS})
        seconds = shares.scaled(alive_s)
        waits_for_workers = coordination_by_state(acc, task_bins)
        coordination_share = sum(waits_for_workers.values()) / total
        python = info.python if info is not None else False
        busy = shares.get("gil_held") + shares.native + shares.get("gil_wait")
        if coordination_share >= COORDINATOR_SHARE:
            role = "coordinator"
        elif busy + shares.io + shares.sync - coordination_share < IDLE_THREAD_SHARE:
            role = "idle"
        else:
            role = "worker"
        cpu = recording.thread_cpu.get(key)
        clocks = clock_figures[key] = thread_figures(acc, interval, recording.clock_ticks_hz)
        if python:
            summary_seconds = summary_seconds.plus(seconds)
            coordination_s += sum(waits_for_workers.values()) * interval
            sleep_s += acc.sleep * interval
            worker = clocks.without_pre_empted(
                without_coordination(counts, waits_for_workers, interval), alive_s
            )
            # GIL held while pre-empted is not the program's work, nor the pool's: the pool's
            # GIL-held seconds shrink with the thread's
            held_kept = worker.get("gil_held") / (counts["gil_held"] * interval or 1.0)
            own_overhead = {"gil_held": 0.0, "native": 0.0}
            for (kind, state), count in acc.overhead.items():
                overhead = count * interval * (held_kept if state == "gil_held" else 1.0)
                by_state = overhead_s.setdefault(kind, {})
                by_state[state] = by_state.get(state, 0.0) + overhead
                own_overhead[state] += overhead
                if acc.pid != recording.target.pid:
                    overhead_in_workers_s += overhead
            if acc.pid == recording.target.pid:
                for state in serial_cpu_s:
                    kept = held_kept if state == "gil_held" else 1.0
                    if role == "coordinator":  # all its own CPU: feeding workers, collecting
                        serial = worker.get(state) - own_overhead[state]
                    elif acc.tid == acc.pid and task_bins:  # a pool ran: the main thread's
                        # own CPU while no task ran anywhere (preparing the pool's input)
                        serial = alone_cpu(acc, task_bins, state) * interval * kept
                    else:  # its imports (a pool's workers pay theirs each, in parallel)
                        serial = acc.importing[state] * interval * kept
                    serial_cpu_s[state] += max(0.0, serial)
            worker_seconds = worker_seconds.plus(worker)
            worker_variance = worker_variance.plus(clocks.worker_variance(seconds, worker))
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
                alive_s=alive_s,
                cpu_user_s=cpu.user_s if cpu else 0.0,
                cpu_system_s=cpu.system_s if cpu else 0.0,
                samples=acc.samples,
                on_cpu_share=shares.get("gil_held") + shares.native,
                gil_held_share=shares.get("gil_held"),
                states=shares,
                state_seconds=seconds,
                role=role,
                hot_functions=hot_functions(acc),
                ident=info.ident if info is not None else None,
                observed_samples=clocks.observed_samples,
                share_errors=clocks.share_errors,
                few_samples=clocks.few_samples,
                starved_share=clocks.starved_share,
                pre_empted_share=clocks.pre_empted_share,
                cpu_clock_share=clocks.cpu_clock_share,
                clock_disagreement=clocks.clock_disagreement,
                clock_error=clocks.clock_error,
                ipc_wait_s=acc.ipc * interval,
            )
        )
        lanes.append(Lane(pid=acc.pid, tid=acc.tid, name=name, shares=series.lanes[key]))

    profiles = process_profiles(recording, thread_profiles, processes, start_s)
    timeline = Timeline(
        bin_s=series.bin_s,
        t_s=[i * series.bin_s for i in range(len(series.cores))],
        cores_used=series.cores,
        gil_utilisation=series.gil,
        lanes=lanes,
    )
    cpu_s = sum(p.cpu_user_s + p.cpu_system_s for p in profiles)
    root = next((p for p in profiles if p.is_root), None)
    worker_total = sum(worker_seconds.get(k) for k in STATE_KEYS) or 1.0
    ctx = sum(p.ctx_switches_voluntary + p.ctx_switches_involuntary for p in profiles)
    summary = Summary(
        wall_s=wall_s,
        python_threads=sum(1 for ps in thread_profiles.values() for t in ps if t.python),
        processes=len(profiles),
        thread_seconds=summary_seconds,
        worker_seconds=worker_seconds,
        cpu_s=cpu_s,
        cores_used_mean=cpu_s / wall_s if wall_s else 0.0,
        cores_used_peak=max(series.cores, default=0.0),
        gil_utilisation=root.gil.utilisation if root is not None else None,
        gil_wait_share=worker_seconds.get("gil_wait") / worker_total,
        ctx_switches_per_s=ctx / wall_s if wall_s else 0.0,
        starved_s=sum(
            t.starved_share * t.alive_s for ps in thread_profiles.values() for t in ps if t.python
        ),
        clock_check=clock_check(profiles, clock_figures),
    )
    child_python = sum(1 for p in profiles if not p.is_root and any(t.python for t in p.threads))
    return Accounting(
        processes=profiles,
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
        pool_overhead_in_workers_s=overhead_in_workers_s,
        serial_cpu_s=serial_cpu_s,
        asyncio_main=asyncio_main,
        worker_variance_s2=worker_variance,
        tick_s=interval,
    )


def alone_cpu(acc: ThreadCounters, task_bins: set[int], state: str) -> int:
    """On-CPU samples in ``state`` outside pool machinery, in bins where no task ran."""
    return sum(
        counts[state] - acc.flags.get(b, Counter())[f"overhead_{state}"]
        for b, counts in acc.bins.items()
        if b not in task_bins
    )


def coordination_by_state(acc: ThreadCounters, task_bins: set[int]) -> Counter[str]:
    """The thread's samples waiting for other workers, by state.

    Joins, futures and pool results are judged per sample from the stack. An event loop
    blocked in its selector waits for the pool's tasks when they run meanwhile (a task ran in
    the same timeline bin: the loop awaits their futures, as in ``run_in_executor``); with no
    task running, its wait is I/O on its sockets and timers.
    """
    waits = Counter(acc.coordination)
    waits["io"] += sum(c["loop_wait"] for b, c in acc.flags.items() if b in task_bins)
    return waits


def without_coordination(
    counts: dict[str, float], waits_for_workers: Counter[str], interval: float
) -> States:
    """The thread's seconds per state, minus the time it spent waiting for other workers."""
    seconds = {k: counts[k] * interval for k in STATE_KEYS}
    for state, samples in waits_for_workers.items():
        seconds[state] = max(0.0, seconds[state] - samples * interval)
    return States(**seconds)


def hot_functions(acc: ThreadCounters) -> list[HotFunction]:
    """The thread's most sampled leaf functions, with the states they were sampled in."""
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


def process_profiles(
    recording: Recording,
    thread_profiles: dict[int, list[ThreadProfile]],
    tallies: dict[int, ProcessTally],
    start_s: float,
) -> list[ProcessProfile]:
    """The profile's processes, root first."""
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
        tally = tallies.get(pid) or ProcessTally(start_s, start_s)
        measured = tally.gil_measured
        gil_wait_s = sum(t.state_seconds.get("gil_wait") for t in threads)
        nswitch = tally.switches
        p_wall = (tally.last_s - tally.first_s) + interval
        counters = last_counters.get(pid)
        processes.append(
            ProcessProfile(
                pid=pid,
                ppid=counters.ppid if counters else None,
                command=mask_args(list(recording.commands.get(pid, ()))),
                is_root=pid == root_pid,
                python=any(t.python for t in threads),
                first_seen_s=tally.first_s - start_s,
                last_seen_s=tally.last_s + interval - start_s,
                alive_s=p_wall,
                cpu_user_s=counters.cpu_user_s if counters else 0.0,
                cpu_system_s=counters.cpu_system_s if counters else 0.0,
                ctx_switches_voluntary=counters.ctx_voluntary if counters else 0,
                ctx_switches_involuntary=counters.ctx_involuntary if counters else 0,
                rss_peak_bytes=rss_peak.get(pid, 0),
                gil=GilStats(
                    enabled=recording.target.gil_enabled,
                    measured=measured > 0,
                    utilisation=tally.gil_held / measured if measured else None,
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
