"""Streaming accounting: fold ticks into counters as they arrive, so long runs stay small.

`analyse` needs every tick of the run in memory; an hour at 100 Hz over 50 threads is 18
million observations. `StreamingAccounting` keeps only what the profile reports: per thread
its state counts, coordination and sleep samples, hot leaves and (stack, state) counts; per
process its GIL counts, first and last switch counter and tick times' ends; and timeline bins
whose width doubles up a chain (0.05 s, 0.1 s, 0.5 s, 1 s, 5 s, ...) when the run outgrows
them, by merging neighbouring bins exactly. Memory then grows with the number of distinct
stacks and threads, not with time. It produces the same `Accounting` as `analyse`, so
`build_profile(recording, ctx, accounting=...)` renders it the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from concdiag.analysis.accounting import (
    MAX_TIMELINE_BINS,
    Accounting,
    ProcessSpan,
    _classify_all,
    _StackCursor,
    _ThreadAcc,
    assemble,
    process_profiles,
)
from concdiag.collectors.records import Recording, StackChange, Tick
from concdiag.model import (
    STATE_KEYS,
    Lane,
    ProcessProfile,
    ThreadProfile,
)

#: Ticks of context on each side of a chunk for the classification's sequence rules.
EDGE_TICKS = 64
#: Bin widths, each a multiple of the one before, so bins merge exactly when the run grows.
BIN_CHAIN_S = (0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass
class _ProcAcc:
    first_s: float
    last_s: float
    last_tick_s: float
    last_tids: frozenset[int] = frozenset()
    gil: Counter[str] = field(default_factory=Counter)
    first_switches: int | None = None
    last_switches: int | None = None
    last_cpu: tuple[float, int] | None = None


class StreamingAccounting:
    """Feed ticks (in time order) with the stacks known for them; read `finish` at the end."""

    def __init__(self, recording: Recording, start_s: float = 0.0) -> None:
        # ``recording`` supplies the run's metadata (rate, target, threads, counters); its
        # ``ticks`` list is not read: ticks come through `feed`.
        self.recording = recording
        self.start_s = start_s
        self.interval = 1.0 / recording.rate_hz
        self.gil_enabled = recording.target.gil_enabled
        self.chain_index = 0
        self.threads: dict[tuple[int, int], _ThreadAcc] = {}
        self.procs: dict[int, _ProcAcc] = {}
        self.bin_gil: dict[int, Counter[str]] = defaultdict(Counter)
        self.bin_cpu_ticks: dict[int, float] = defaultdict(float)
        self.asyncio_seen = False
        self.asyncio_main = False
        self.context: list[Tick] = []
        self.held: list[Tick] = []
        self.held_stacks: dict[tuple[int, int], list[StackChange]] = {}
        self.files_seen: set[str] = set()
        self.end_s = start_s

    @property
    def bin_s(self) -> float:
        return BIN_CHAIN_S[self.chain_index]

    def _bin(self, t_s: float) -> int:
        b = int((t_s - self.start_s) / self.bin_s)
        while b >= MAX_TIMELINE_BINS and self.chain_index + 1 < len(BIN_CHAIN_S):
            self._coarsen()
            b = int((t_s - self.start_s) / self.bin_s)
        return b

    def _coarsen(self) -> None:
        old = self.bin_s
        self.chain_index += 1
        factor = round(self.bin_s / old)
        for acc in self.threads.values():
            merged: dict[int, Counter[str]] = {}
            for b, counts in acc.bins.items():
                merged.setdefault(b // factor, Counter()).update(counts)
            acc.bins = merged
        gil: dict[int, Counter[str]] = defaultdict(Counter)
        for b, counts in self.bin_gil.items():
            gil[b // factor].update(counts)
        self.bin_gil = gil
        cpu: dict[int, float] = defaultdict(float)
        for b, value in self.bin_cpu_ticks.items():
            cpu[b // factor] += value
        self.bin_cpu_ticks = cpu

    def feed(
        self,
        ticks: Iterable[Tick],
        stacks: dict[tuple[int, int], list[StackChange]] | None = None,
    ) -> None:
        """Account a chunk of ticks; ``stacks`` covers the same stretch of time.

        States come from the batch analysis' own classification. Its sequence rules (GIL
        hand-offs, starved runs) look at neighbouring ticks, so each chunk is classified with
        the last `EDGE_TICKS` ticks before it as context, and its own last `EDGE_TICKS` are
        held back until the next chunk (or `finish`) shows what follows them.
        """
        fresh = [tick for tick in ticks if tick.t_s >= self.start_s]
        merged: dict[tuple[int, int], list[StackChange]] = {}
        for source in (self.held_stacks, stacks or {}):
            for key, changes in source.items():
                merged.setdefault(key, []).extend(changes)
        pending = self.held + fresh
        cut = max(0, len(pending) - EDGE_TICKS)
        self._account(self.context, pending[:cut], pending, merged)
        self.context = (self.context + pending[:cut])[-EDGE_TICKS:]
        self.held = pending[cut:]
        self.held_stacks = stacks or {}

    def _flush(self) -> None:
        if self.held:
            self._account(self.context, self.held, self.held, self.held_stacks)
            self.context = (self.context + self.held)[-EDGE_TICKS:]
            self.held = []

    def _account(
        self,
        context: list[Tick],
        chunk: list[Tick],
        following: list[Tick],
        stacks: dict[tuple[int, int], list[StackChange]],
    ) -> None:
        """Account ``chunk``, classified together with ``context`` before and ``following``."""
        cursors = {key: _StackCursor(ch) for key, ch in stacks.items()}
        window = context + following
        classified = _classify_all(self.recording, window, self.gil_enabled)
        position: Counter[tuple[int, int]] = Counter()
        for tick in context:
            for obs in tick.threads:
                position[(tick.pid, obs.tid)] += 1
        root_pid = self.recording.target.pid
        for tick in chunk:
            b = self._bin(tick.t_s)
            self.end_s = max(self.end_s, tick.t_s + self.interval)
            proc = self.procs.get(tick.pid)
            tids = frozenset(o.tid for o in tick.threads)
            if proc is None:
                proc = self.procs[tick.pid] = _ProcAcc(tick.t_s, tick.t_s, tick.t_s)
            else:
                # Where the sampler fell behind, threads alive on both sides were unobserved.
                gap = round((tick.t_s - proc.last_tick_s) / self.interval) - 1
                if gap > 0:
                    for tid in tids & proc.last_tids:
                        acc = self.threads.get((tick.pid, tid))
                        if acc is not None:
                            acc.counts["unknown"] += gap
                            acc.samples += gap
            if proc.last_cpu is not None:
                t_a, c_a = proc.last_cpu
                delta = tick.process_cpu_ticks - c_a
                if delta > 0:
                    self.bin_cpu_ticks[self._bin((t_a + tick.t_s) / 2)] += delta
            proc.last_cpu = (tick.t_s, tick.process_cpu_ticks)
            proc.last_tick_s = proc.last_s = tick.t_s
            proc.last_tids = tids
            if tick.gil_locked is not None:
                state = "held" if tick.gil_locked else "free"
                proc.gil[state] += 1
                self.bin_gil[b][state] += 1
                if tick.gil_switches is not None:
                    if proc.first_switches is None:
                        proc.first_switches = tick.gil_switches
                    proc.last_switches = tick.gil_switches
            for obs in tick.threads:
                key = (tick.pid, obs.tid)
                acc = self.threads.get(key)
                if acc is None:
                    acc = self.threads[key] = _ThreadAcc(tick.pid, obs.tid)
                state = classified[key][position[key]]
                position[key] += 1
                cursor = cursors.get(key)
                frames = cursor.at(tick.t_s) if cursor is not None else ()
                acc.add(tick.t_s, b, state, obs, frames)
                if frames:
                    if (not self.asyncio_seen or not self.asyncio_main) and any(
                        "/asyncio/" in f[1] for f in frames
                    ):
                        self.asyncio_seen = True
                        self.asyncio_main = self.asyncio_main or key == (root_pid, root_pid)
                    self.files_seen.update(f[1] for f in frames)

    def finish(self) -> Accounting:
        """The accounting of everything fed, in the shape `analyse` returns."""
        self._flush()
        from concdiag.collectors.procfs import CLOCK_TICKS_HZ

        recording = self.recording
        interval = self.interval
        start_s = self.start_s
        wall_s = max(self.end_s - start_s, interval)
        bin_s = self.bin_s
        nbins = max(1, min(MAX_TIMELINE_BINS, int(wall_s / bin_s + 0.999)))
        per_bin = bin_s / interval

        def lane_of(acc: _ThreadAcc, name: str) -> Lane:
            lane = {k: [0.0] * nbins for k in STATE_KEYS}
            for b, bin_counts in acc.bins.items():
                if b < nbins:
                    for k, v in bin_counts.items():
                        lane[k][b] = min(1.0, v / per_bin)
            return Lane(pid=acc.pid, tid=acc.tid, name=name, shares=lane)

        cores = [
            min(self.bin_cpu_ticks.get(i, 0.0) / CLOCK_TICKS_HZ / bin_s, 64.0) for i in range(nbins)
        ]
        gil_series: list[float | None] = []
        for i in range(nbins):
            c = self.bin_gil.get(i, Counter())
            measured = c["held"] + c["free"]
            gil_series.append(c["held"] / measured if measured else None)
        return assemble(
            recording,
            self.threads,
            start_s=start_s,
            wall_s=wall_s,
            bin_s=bin_s,
            lane_of=lane_of,
            processes_of=self._processes,
            cores=cores,
            gil_series=gil_series,
            asyncio_seen=self.asyncio_seen,
            asyncio_main=self.asyncio_main,
            files_seen=self.files_seen,
        )

    def _processes(self, profiles: dict[int, list[ThreadProfile]]) -> list[ProcessProfile]:
        spans = {}
        for pid, proc in self.procs.items():
            switches = None
            if proc.first_switches is not None and proc.last_switches is not None:
                switches = proc.last_switches - proc.first_switches
            spans[pid] = ProcessSpan(
                first_s=proc.first_s,
                last_s=proc.last_s,
                gil_held=proc.gil["held"],
                gil_measured=proc.gil["held"] + proc.gil["free"],
                switches=switches,
            )
        return process_profiles(self.recording, profiles, spans, self.start_s)
