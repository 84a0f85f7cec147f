"""Per-thread time accounting, one path for every mode: ticks stream in, counters come out.

Each tick of each thread is one sample of ``1/rate`` seconds. A thread's share of a state is
its samples in that state over its samples alive; ticks the sampler missed while the thread
was alive count as ``unknown``, so the shares always cover the whole alive time.

`StreamingAccounting` keeps counters, not ticks (see `counters`), so memory grows with the
number of threads, distinct stacks and timeline bins, not with the length of the run. A
collector feeds it chunk by chunk; a recording held whole (a replayed fixture) is one chunk
(`analyse`). Timeline bins are kept at a collection width from `COLLECT_CHAIN_S` that grows
(merging neighbours exactly) when the run outgrows `MAX_COLLECT_BINS`; at the end they are
merged into the display width, so a run gets the same bins whichever way it was fed.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from concdiag.analysis.accounting.assembly import TimelineSeries, assemble
from concdiag.analysis.accounting.event_loop import SLOW_CALLBACK_S, LoopWatch
from concdiag.analysis.accounting.result import Accounting
from concdiag.analysis.accounting.stack_roles import PerStack, program_line
from concdiag.analysis.accounting.tally import ProcessTally, StackCursor, ThreadCounters
from concdiag.analysis.accounting.tick_states import classify_all
from concdiag.model import STATE_KEYS
from concdiag.recording.recording import Recording, RunSoFar
from concdiag.recording.records import Chunk, StackChange, Tick

__all__ = ["Accounting", "AccountingSink", "StreamingAccounting", "replay"]

#: Bins a timeline shows at most: enough to see phases in a report, small in the JSON.
MAX_TIMELINE_BINS = 240
#: Widths bins are shown at, the first that fits in `MAX_TIMELINE_BINS` (round numbers).
DISPLAY_WIDTHS_S = (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
#: Widths bins are collected at; each divides the next and every display width above it,
#: so collected bins merge into any display width exactly.
COLLECT_CHAIN_S = (0.05, 0.25, 0.5, 5.0, 30.0, 300.0, 3600.0)
#: Collected bins kept before moving up the chain (per thread: a few kB).
MAX_COLLECT_BINS = 1200
#: Ticks of context on each side of a chunk for the classification's sequence rules.
EDGE_TICKS = 64

ChunkStacks = dict[tuple[int, int], list[StackChange]]
#: Stacks as a chunk or a recording hands them over.
StacksIn = Mapping[tuple[int, int], Sequence[StackChange]]


def start_up_line(frames: tuple[Any, ...]) -> Any:
    """The innermost frame outside Python's frozen modules: what a sample at start-up ran.

    The import system's own lines (``<frozen importlib._bootstrap>``) serve any code that
    compiles or loads source (py_compile, a plugin loader), so they tell no start-up apart
    from work; the module being imported, or the program's line calling them, does.
    """
    for frame in reversed(frames):
        if not frame[1].startswith("<frozen "):
            return frame
    return frames[-1]


class StreamingAccounting:
    """Feed ticks (in time order) with the stacks known for them; read `finish` at the end."""

    def __init__(self, run: RunSoFar, start_s: float = 0.0) -> None:
        # ``run`` says how to read the ticks (rate, target, threads so far, syscall numbers,
        # CPU tick unit); the ticks themselves come by `feed`.
        self.run = run
        self.start_s = start_s
        self.interval = 1.0 / run.rate_hz
        self.chain_index = 0
        self.threads: dict[tuple[int, int], ThreadCounters] = {}
        self.procs: dict[int, ProcessTally] = {}
        self.bin_gil: dict[int, Counter[str]] = defaultdict(Counter)
        self.bin_cpu_ticks: dict[int, float] = defaultdict(float)
        self.asyncio_seen = False
        self.asyncio_main = False
        self.context: list[Tick] = []
        self.held: list[Tick] = []
        self.held_stacks: ChunkStacks = {}
        self.files_seen: set[str] = set()
        self.end_s = start_s
        self.tick_count = 0
        #: Where the root process spent CPU before any other Python process ran: its own
        #: start-up (imports, options, plugins, finding its inputs). A worker process that
        #: spends CPU at the same lines repeats that start-up; it is not the work divided.
        self.startup_leaves: set[tuple[str, str, int]] = set()
        self.workers_started = False
        #: Ticks of GIL wait by (pid, waiter tid, holder tid, the holder's line or None).
        self.gil_blame: Counter[BlameKey] = Counter()
        self._holder_line = PerStack(program_line)
        self.loops = LoopWatch(
            run.syscalls.event_wait, max(1, math.ceil(SLOW_CALLBACK_S / self.interval - 1e-9))
        )

    @property
    def bin_s(self) -> float:
        """The width bins are collected at now."""
        return COLLECT_CHAIN_S[self.chain_index]

    def _bin(self, t_s: float) -> int:
        b = int((t_s - self.start_s) / self.bin_s)
        while b >= MAX_COLLECT_BINS and self.chain_index + 1 < len(COLLECT_CHAIN_S):
            self._coarsen()
            b = int((t_s - self.start_s) / self.bin_s)
        return b

    def _coarsen(self) -> None:
        old = self.bin_s
        self.chain_index += 1
        factor = round(self.bin_s / old)
        for acc in self.threads.values():
            acc.bins = _merge_counters(acc.bins, factor)
            acc.flags = _merge_counters(acc.flags, factor)
        self.bin_gil = defaultdict(Counter, _merge_counters(self.bin_gil, factor))
        cpu: dict[int, float] = defaultdict(float)
        for b, value in self.bin_cpu_ticks.items():
            cpu[b // factor] += value
        self.bin_cpu_ticks = cpu

    def feed(self, ticks: Iterable[Tick], stacks: StacksIn | None = None) -> None:
        """Account a chunk of ticks; ``stacks`` covers the same stretch of time.

        The classification's sequence rules (GIL hand-offs, starved runs) look at neighbouring
        ticks, so each chunk is classified with the last `EDGE_TICKS` ticks before it as
        context, and its own last `EDGE_TICKS` are held back until the next chunk (or
        `finish`) shows what follows them.
        """
        fresh = [tick for tick in ticks if tick.t_s >= self.start_s]
        merged = _merge_stacks(self.held_stacks, stacks or {})
        pending = self.held + fresh
        cut = max(0, len(pending) - EDGE_TICKS)
        self._account(self.context, pending[:cut], pending, merged)
        self.context = (self.context + pending[:cut])[-EDGE_TICKS:]
        self.held = pending[cut:]
        # Held ticks may reach back past this chunk (a chunk shorter than EDGE_TICKS): keep
        # every stack change from the one in force at the first held tick on.
        first_held = self.held[0].t_s if self.held else float("inf")
        self.held_stacks = {}
        for key, changes in merged.items():
            start = max(0, bisect.bisect_right([c.t_s for c in changes], first_held) - 1)
            if changes[start:]:
                self.held_stacks[key] = changes[start:]

    def _account(
        self,
        context: list[Tick],
        chunk: list[Tick],
        following: list[Tick],
        stacks: ChunkStacks,
    ) -> None:
        """Account ``chunk``, classified together with ``context`` before and ``following``."""
        if not chunk:
            return
        self.tick_count += len(chunk)
        cursors = {key: StackCursor(ch) for key, ch in stacks.items()}
        classified = classify_all(self.run, context + following)
        position: Counter[tuple[int, int]] = Counter()
        for tick in context:
            for obs in tick.threads:
                position[(tick.pid, obs.tid)] += 1
        root_key = (self.run.target.pid, self.run.target.pid)
        syscalls = self.run.syscalls
        for tick in chunk:
            b = self._bin(tick.t_s)
            self.end_s = max(self.end_s, tick.t_s + self.interval)
            self._account_process(tick, b)
            waiting: list[int] = []
            for obs in tick.threads:
                key = (tick.pid, obs.tid)
                acc = self.threads.get(key)
                if acc is None:
                    acc = self.threads[key] = ThreadCounters(tick.pid, obs.tid)
                state = classified[key][position[key]]
                position[key] += 1
                if state == "gil_wait":
                    waiting.append(obs.tid)
                cursor = cursors.get(key)
                frames = cursor.at(tick.t_s) if cursor is not None else ()
                self.loops.see(key, tick.t_s, obs, state, frames)
                repeats = self._repeats_start_up(tick.pid, key, state, frames)
                acc.add(tick.t_s, b, state, obs, frames, syscalls, repeats_start_up=repeats)
                if frames:
                    if (not self.asyncio_seen or not self.asyncio_main) and any(
                        "/asyncio/" in f[1] for f in frames
                    ):
                        self.asyncio_seen = True
                        self.asyncio_main = self.asyncio_main or key == root_key
                    self.files_seen.update(f[1] for f in frames)
            if waiting:
                self._blame(tick, waiting, cursors)

    def _blame(self, tick: Tick, waiting: list[int], cursors: dict[Any, StackCursor]) -> None:
        """Charge this tick's GIL waits to the GIL's holder and the line it was at."""
        holder = tick.gil_holder_tid
        if holder is None:
            for tid in waiting:
                self.gil_blame[(tick.pid, tid, None, None)] += 1
            return
        cursor = cursors.get((tick.pid, holder))
        frames = cursor.at(tick.t_s) if cursor is not None else ()
        line = self._holder_line((tick.pid, holder), frames)
        for tid in waiting:
            if tid != holder:
                self.gil_blame[(tick.pid, tid, holder, line)] += 1

    def _repeats_start_up(
        self, pid: int, key: tuple[int, int], state: str, frames: tuple[Any, ...]
    ) -> bool:
        """Whether this sample of a worker process runs a line of the root's own start-up;
        the root's samples before any worker ran are collected here as that start-up."""
        if not frames or state not in ("gil_held", "native"):
            return False
        root = self.run.target.pid
        if pid == root:
            if not self.workers_started:
                self.startup_leaves.add(start_up_line(frames))
            return False
        if not self.workers_started:
            info = self.run.threads.get(key)
            self.workers_started = info is not None and info.python
        return start_up_line(frames) in self.startup_leaves

    def _account_process(self, tick: Tick, b: int) -> None:
        """The process' side of a tick: missed ticks, CPU, GIL word."""
        proc = self.procs.get(tick.pid)
        tids = frozenset(o.tid for o in tick.threads)
        if proc is None:
            proc = self.procs[tick.pid] = ProcessTally(tick.t_s, tick.t_s)
        else:
            # Where the sampler fell behind, threads alive on both sides were unobserved.
            gap = round((tick.t_s - proc.last_s) / self.interval) - 1
            if gap > 0:
                for tid in tids & proc.last_tids:
                    acc = self.threads.get((tick.pid, tid))
                    if acc is not None:
                        acc.add_missed(gap)
        if proc.last_cpu is not None:
            t_a, c_a = proc.last_cpu
            delta = tick.process_cpu_ticks - c_a
            if delta > 0:
                # CPU used between two ticks lands in the bin of their midpoint.
                self.bin_cpu_ticks[self._bin((t_a + tick.t_s) / 2)] += delta
        proc.last_cpu = (tick.t_s, tick.process_cpu_ticks)
        proc.last_s = tick.t_s
        proc.last_tids = tids
        if tick.gil_locked is not None:
            proc.gil_measured += 1
            proc.gil_held += int(tick.gil_locked)
            self.bin_gil[b]["held" if tick.gil_locked else "free"] += 1
            if tick.gil_switches is not None:
                if proc.first_switches is None:
                    proc.first_switches = tick.gil_switches
                proc.last_switches = tick.gil_switches
                proc.switch_samples += 1

    def finish(self, recording: Recording) -> Accounting:
        """The accounting of everything fed, in the run ``recording`` describes."""
        if self.held:
            self._account(self.context, self.held, self.held, self.held_stacks)
            self.context = (self.context + self.held)[-EDGE_TICKS:]
            self.held = []
        wall_s = max(self.end_s - self.start_s, self.interval)
        accounting = assemble(
            recording,
            self.threads,
            self.procs,
            start_s=self.start_s,
            wall_s=wall_s,
            series=self._series(wall_s),
            asyncio_seen=self.asyncio_seen,
            asyncio_main=self.asyncio_main,
            files_seen=self.files_seen,
            collect_bin_s=self.bin_s,
        )
        accounting.ticks = self.tick_count
        accounting.gil_blame = dict(self.gil_blame)
        accounting.event_loops = self.loops.finish()
        return accounting

    def _series(self, wall_s: float) -> TimelineSeries:
        """Collected bins merged into the display width."""
        collected = self.bin_s
        bin_s = display_width(wall_s, collected)
        factor = max(1, round(bin_s / collected))
        nbins = max(1, min(MAX_TIMELINE_BINS, int(wall_s / bin_s + 0.999)))
        per_bin = bin_s / self.interval

        def clamp(b: int) -> int:
            return min(nbins - 1, b // factor)

        lanes: dict[tuple[int, int], dict[str, list[float]]] = {}
        for key, acc in self.threads.items():
            lane = {k: [0.0] * nbins for k in STATE_KEYS}
            for b, bin_counts in acc.bins.items():
                for k, v in bin_counts.items():
                    lane[k][clamp(b)] += v
            lanes[key] = {k: [min(1.0, v / per_bin) for v in values] for k, values in lane.items()}
        cpu_ticks = [0.0] * nbins
        for b, value in self.bin_cpu_ticks.items():
            cpu_ticks[clamp(b)] += value
        hz = self.run.clock_ticks_hz
        cores = [min(ticks / hz / bin_s, 64.0) for ticks in cpu_ticks]
        gil_counts = [Counter[str]() for _ in range(nbins)]
        for b, counts in self.bin_gil.items():
            gil_counts[clamp(b)].update(counts)
        gil: list[float | None] = []
        for c in gil_counts:
            measured = c["held"] + c["free"]
            gil.append(c["held"] / measured if measured else None)
        return TimelineSeries(bin_s=bin_s, lanes=lanes, cores=cores, gil=gil)


BlameKey = tuple[int, int, int | None, tuple[str, str, int] | None]


def display_width(wall_s: float, collected_s: float) -> float:
    """The first round width that fits the run in `MAX_TIMELINE_BINS` and merges exactly."""
    for width in DISPLAY_WIDTHS_S:
        factor = width / collected_s
        if factor < 1 - 1e-9 or abs(factor - round(factor)) > 1e-9:
            continue
        if wall_s / width <= MAX_TIMELINE_BINS:
            return float(width)
    return collected_s * max(1, math.ceil(wall_s / collected_s / MAX_TIMELINE_BINS))


def _merge_stacks(older: ChunkStacks, newer: StacksIn) -> ChunkStacks:
    """Two chunks' stack changes, in time order per thread.

    Consecutive py-spy turns overlap (the next starts before the last stops), so where both
    saw a thread, the older turn's changes from the newer one's first on are dropped.
    """
    merged = {key: list(changes) for key, changes in older.items()}
    for key, changes in newer.items():
        kept = merged.setdefault(key, [])
        if changes:
            while kept and kept[-1].t_s >= changes[0].t_s:
                kept.pop()
        kept.extend(changes)
    return merged


def _merge_counters(bins: dict[int, Counter[str]], factor: int) -> dict[int, Counter[str]]:
    merged: dict[int, Counter[str]] = {}
    for b, counts in bins.items():
        merged.setdefault(b // factor, Counter()).update(counts)
    return merged


def replay(recording: Recording) -> Accounting:
    """A saved recording's ticks as one chunk: the same path live chunks stream through."""
    accounting = StreamingAccounting(recording, start_s=recording.start_s)
    accounting.feed(recording.ticks, recording.stacks)
    return accounting.finish(recording)


class AccountingSink:
    """Where a collector's chunks go: the streaming accounting, started at the first chunk.

    It starts late because the run's rate and start are settled only once the target runs
    (the in-process collector's rate is the one it achieved). If accounting a chunk fails,
    the failure is kept and the remaining chunks are kept raw (`unaccounted`), so the session
    can save them instead of losing the run.
    """

    def __init__(self) -> None:
        self.accounting: StreamingAccounting | None = None
        self.error: Exception | None = None
        self.raw_ticks: list[Tick] = []
        self.raw_stacks: ChunkStacks = {}

    def __call__(self, run: RunSoFar, chunk: Chunk) -> None:
        if self.error is None:
            try:
                if self.accounting is None:
                    self.accounting = StreamingAccounting(run, start_s=run.start_s)
                self.accounting.feed(chunk.ticks, chunk.stacks)
                return
            except Exception as exc:  # never lose the run: keep what follows raw
                self.error = exc
        self.raw_ticks.extend(chunk.ticks)
        for key, changes in chunk.stacks.items():
            self.raw_stacks.setdefault(key, []).extend(changes)

    def unaccounted(self) -> tuple[list[Tick], ChunkStacks]:
        """The ticks and stacks kept raw after accounting failed (none when it did not)."""
        return self.raw_ticks, self.raw_stacks

    def finish(self, recording: Recording) -> Accounting:
        """The accounting of every chunk; raises what went wrong while accounting."""
        if self.error is not None:
            raise self.error
        if self.accounting is None:
            self.accounting = StreamingAccounting(recording, start_s=recording.start_s)
        return self.accounting.finish(recording)
