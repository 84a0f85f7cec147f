"""From counters to the profile's threads, processes, summary and timeline.

The accounting gathers counters while ticks stream by; this module turns what it gathered
into the model's figures once, at the end. Nothing here reads a tick.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from concdiag.analysis.accounting.clock_figures import (
    ThreadClockFigures,
    clock_check,
    thread_figures,
)
from concdiag.analysis.accounting.helpers import helper_processes, parents
from concdiag.analysis.accounting.result import Accounting
from concdiag.analysis.accounting.tally import ProcessTally, ThreadCounters
from concdiag.analysis.accounting.thread_totals import PythonTotals, ThreadStates, thread_states
from concdiag.model import (
    STATE_KEYS,
    Frame,
    GilStats,
    HotFunction,
    Lane,
    ProcessProfile,
    StackCount,
    Summary,
    ThreadProfile,
    Timeline,
)
from concdiag.recording.recording import Recording
from concdiag.recording.records import ThreadCpu, ThreadInfo
from concdiag.redact import mask_args

HOT_FUNCTIONS_PER_THREAD = 12


@dataclass(frozen=True, slots=True)
class TimelineSeries:
    """The run's timeline at its final bin width, ready for the model."""

    bin_s: float
    lanes: dict[tuple[int, int], dict[str, list[float]]]
    cores: list[float]
    gil: list[float | None]


@dataclass(slots=True)
class StackTable:
    """The profile's frames, each stored once, and its stacks as frame indices."""

    frames: list[Frame] = field(default_factory=list)
    stacks: list[StackCount] = field(default_factory=list)
    index: dict[tuple[str, str, int], int] = field(default_factory=dict)

    def add(self, acc: ThreadCounters) -> None:
        for (stack, state), count in acc.stacks.items():
            ids = []
            for frame in stack:
                if frame not in self.index:
                    self.index[frame] = len(self.frames)
                    self.frames.append(Frame(*frame))
                ids.append(self.index[frame])
            self.stacks.append(StackCount(acc.pid, acc.tid, state, ids, count))


def mutual_wait_s(threads: dict[tuple[int, int], ThreadCounters], bin_s: float) -> float:
    """Seconds in which every thread of the tree waited on another: none on a CPU, none in
    I/O of its own or asleep, and at least one blocked on a lock, a queue or the tree's own
    pipes.

    Nothing ran then: the program's threads and processes were handing work to each other
    or waiting out a timeout (a pool polling its queue, a join with a timeout). A program
    run without its pool has no such time.
    """
    active: Counter[int] = Counter()
    waiting: Counter[int] = Counter()
    for acc in threads.values():
        for b, counts in acc.bins.items():
            ipc = acc.flags.get(b, Counter())["ipc"]
            waiting[b] += counts["sync"] + ipc
            active[b] += sum(counts.values()) - counts["sync"] - ipc
    return sum(1 for b, n in waiting.items() if n and not active[b]) * bin_s


def fresh_interpreters(recording: Recording) -> frozenset[int]:
    """The processes whose command line differs from their parent's: each was started as an
    interpreter of its own (spawned, run through ``subprocess`` or a shell), not forked from
    it, which keeps the parent's command line."""
    parent = parents(recording)
    root = recording.target.pid
    commands = recording.commands
    return frozenset(
        pid
        for pid, argv in commands.items()
        if pid != root and argv and list(argv) != list(commands.get(parent.get(pid, root), ()))
    )


def relay_bins(threads: dict[tuple[int, int], ThreadCounters]) -> dict[int, frozenset[int]]:
    """Per process: the timeline bins in which none of its threads ran or waited on I/O of
    its own, and at least one waited on a pipe or socket to another process of the tree.

    A thread blocked on a lock, queue or condition then waits for what that channel brings:
    nothing in its own process could release it.
    """
    relaying: dict[int, set[int]] = defaultdict(set)
    active: dict[int, set[int]] = defaultdict(set)
    for acc in threads.values():
        for b, flags in acc.flags.items():
            if flags["ipc"]:
                relaying[acc.pid].add(b)
        for b, counts in acc.bins.items():
            flags = acc.flags.get(b, Counter())
            own_io = flags["own_io"]
            busy = counts["gil_held"] + counts["native"] + counts["gil_wait"] + counts["unknown"]
            if busy or own_io:
                active[acc.pid].add(b)
    return {pid: frozenset(bins - active[pid]) for pid, bins in relaying.items()}


def descendants_busy(
    recording: Recording, threads: dict[tuple[int, int], ThreadCounters]
) -> dict[int, frozenset[int]]:
    """Per process: the timeline bins in which one of its descendant processes was on a CPU."""
    root = recording.target.pid
    parent = {c.pid: c.ppid for c in recording.counters if c.ppid is not None}
    busy: dict[int, set[int]] = defaultdict(set)
    for acc in threads.values():
        bins = {b for b, c in acc.bins.items() if c["gil_held"] or c["native"]}
        if not bins or acc.pid == root:
            continue
        seen = {acc.pid}
        # every process of the tree descends from the root, whether or not its parent was
        # read (a child that lived a tenth of a second may never have been)
        ancestor: int | None = parent.get(acc.pid, root)
        while ancestor is not None and ancestor not in seen:
            busy[ancestor] |= bins
            seen.add(ancestor)
            ancestor = parent.get(ancestor)
    return {pid: frozenset(bins) for pid, bins in busy.items()}


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
    collect_bin_s: float,
) -> Accounting:
    """Per-thread and per-process counters to the profile's threads, summary and timeline."""
    interval = 1.0 / recording.rate_hz
    stack_table = StackTable()
    thread_profiles: dict[int, list[ThreadProfile]] = defaultdict(list)
    totals = PythonTotals()
    lanes: list[Lane] = []
    helping = helper_processes(recording, threads, processes, interval)
    # a local service stands in for another host, and multiprocessing's own machinery
    # serves the pool: neither's threads are the program's workers
    program = {key: acc for key, acc in threads.items() if acc.pid not in helping}
    task_bins = {b for acc in program.values() for b, c in acc.flags.items() if c["task"]}
    children_busy = descendants_busy(recording, program)
    relayed = relay_bins(program)
    fresh = fresh_interpreters(recording)
    clock_figures: dict[tuple[int, int], ThreadClockFigures] = {}

    for key in sorted(threads):
        acc = threads[key]
        info = recording.threads.get(key)
        states = thread_states(
            acc,
            task_bins,
            interval,
            children_busy.get(acc.pid, frozenset()),
            relayed.get(acc.pid, frozenset()),
        )
        clocks = clock_figures[key] = thread_figures(acc, interval, recording.clock_ticks_hz)
        if acc.pid in helping:
            pass
        elif info is not None and info.python:
            totals.add(
                acc,
                states,
                clocks,
                root_pid=recording.target.pid,
                task_bins=task_bins or children_busy.get(acc.pid, frozenset()),
                interval=interval,
                fresh_interpreter=acc.pid in fresh,
            )
        elif info is not None and acc.pid != recording.target.pid:
            totals.add_external(acc, states, interval)
        stack_table.add(acc)
        profile = thread_profile(
            acc, info, states, clocks, recording.thread_cpu.get(key), start_s, interval
        )
        thread_profiles[acc.pid].append(profile)
        lanes.append(Lane(pid=acc.pid, tid=acc.tid, name=profile.name, shares=series.lanes[key]))

    profiles = process_profiles(recording, thread_profiles, processes, start_s, helping)
    child_python = sum(
        1 for p in profiles if not p.is_root and not p.helper and any(t.python for t in p.threads)
    )
    return Accounting(
        processes=profiles,
        summary=run_summary(
            profiles, thread_profiles, totals, clock_figures, series=series, wall_s=wall_s
        ),
        timeline=run_timeline(series, lanes),
        frames=stack_table.frames,
        stacks=stack_table.stacks,
        coordination_s=totals.coordination_s,
        sleep_s=totals.sleep_s,
        sleep_sites_s=totals.sleep_sites_s,
        sleep_wakes=totals.sleep_wakes,
        lock_sync_s=totals.lock_sync_s,
        worker_threads=totals.worker_threads,
        side_workers=totals.side_workers,
        samples=sum(a.samples for a in threads.values()),
        wall_s=wall_s,
        asyncio_seen=asyncio_seen,
        child_python_processes=child_python,
        files_seen=files_seen,
        pool_overhead_s=totals.overhead_s,
        pool_overhead_in_workers_s=totals.overhead_in_workers_s,
        serial_cpu_s=totals.serial_cpu_s,
        serial_io_s=totals.serial_io_s,
        worker_start_s=totals.worker_start_s,
        worker_start_native_s=totals.worker_start_native_s,
        worker_work_s=totals.worker_work_s,
        external_cpu_s=totals.external_cpu_s,
        mutual_wait_s=mutual_wait_s(program, collect_bin_s),
        pool_in_workers=any(
            c["task"]
            for acc in program.values()
            if acc.pid != recording.target.pid
            for c in acc.flags.values()
        ),
        asyncio_main=asyncio_main,
        worker_variance_s2=totals.worker_variance,
        tick_s=interval,
    )


def thread_profile(
    acc: ThreadCounters,
    info: ThreadInfo | None,
    states: ThreadStates,
    clocks: ThreadClockFigures,
    cpu: ThreadCpu | None,
    start_s: float,
    interval: float,
) -> ThreadProfile:
    """The model's view of one thread."""
    shares = states.shares
    return ThreadProfile(
        tid=acc.tid,
        name=info.name if info is not None else f"thread-{acc.tid}",
        python=info.python if info is not None else False,
        is_main=acc.tid == acc.pid,
        first_seen_s=acc.first_s - start_s,
        last_seen_s=acc.last_s + interval - start_s,
        alive_s=states.alive_s,
        cpu_user_s=cpu.user_s if cpu else 0.0,
        cpu_system_s=cpu.system_s if cpu else 0.0,
        samples=acc.samples,
        on_cpu_share=shares.get("gil_held") + shares.native,
        gil_held_share=shares.get("gil_held"),
        states=shares,
        state_seconds=states.seconds,
        role=states.role,
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


def run_timeline(series: TimelineSeries, lanes: list[Lane]) -> Timeline:
    """The timeline's bins, with one lane per thread."""
    return Timeline(
        bin_s=series.bin_s,
        t_s=[i * series.bin_s for i in range(len(series.cores))],
        cores_used=series.cores,
        gil_utilisation=series.gil,
        lanes=lanes,
    )


def run_summary(
    profiles: list[ProcessProfile],
    thread_profiles: dict[int, list[ThreadProfile]],
    totals: PythonTotals,
    clock_figures: dict[tuple[int, int], ThreadClockFigures],
    *,
    series: TimelineSeries,
    wall_s: float,
) -> Summary:
    """The run's headline figures, over all processes."""
    cpu_s = sum(p.cpu_user_s + p.cpu_system_s for p in profiles)
    root = next((p for p in profiles if p.is_root), None)
    worker_seconds = totals.worker_seconds
    worker_total = sum(worker_seconds.get(k) for k in STATE_KEYS) or 1.0
    ctx = sum(p.ctx_switches_voluntary + p.ctx_switches_involuntary for p in profiles)
    python_threads = [t for ps in thread_profiles.values() for t in ps if t.python]
    return Summary(
        wall_s=wall_s,
        python_threads=len(python_threads),
        processes=len(profiles),
        thread_seconds=totals.thread_seconds,
        worker_seconds=worker_seconds,
        cpu_s=cpu_s,
        cores_used_mean=cpu_s / wall_s if wall_s else 0.0,
        cores_used_peak=max(series.cores, default=0.0),
        gil_utilisation=root.gil.utilisation if root is not None else None,
        gil_wait_share=worker_seconds.get("gil_wait") / worker_total,
        ctx_switches_per_s=ctx / wall_s if wall_s else 0.0,
        starved_s=sum(t.starved_share * t.alive_s for t in python_threads),
        clock_check=clock_check(profiles, clock_figures),
    )


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
    helping: dict[int, str] | None = None,
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
                helper=(helping or {}).get(pid, ""),
            )
        )
    return processes
