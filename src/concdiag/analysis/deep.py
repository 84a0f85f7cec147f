"""Deep tables: yappi's exact per-function calls and CPU joined with the sampler's wall time.

Pure functions from the accounting's stacks and one `YappiRun` to a `DeepProfile`.

Joining: py-spy's frames name a function and the line running now; yappi's name a function
(methods as ``Class.method``) and the line it is defined on. A sampled frame is matched to
the yappi function of the same file and short name whose definition is the closest at or
above the sampled line, so two ``run`` methods in one file stay apart.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from concdiag.formatting import short_name
from concdiag.model import (
    STATE_KEYS,
    DeepFunction,
    DeepProfile,
    DeepThread,
    Frame,
    ProcessProfile,
    StackCount,
    States,
)
from concdiag.own_code import OWN_WORK_FILE, PASS_THROUGH, is_launcher
from concdiag.recording.yappi import YappiFunction, YappiRun, YappiThread

FUNCTIONS_PER_THREAD = 40
#: A function "computes" or "waits" when one kind of time is at least this share of its wall.
BEHAVIOUR_SHARE = 0.6
#: Rows whose own time is below this on every measure are left out of the tables.
MIN_ROW_S = 0.0005
#: Traced wall time the sampler did not see counts as awaiting from this many samples on.
AWAIT_MIN_SAMPLES = 5

Identity = tuple[str, str, int | None]  # file, short name, yappi definition line


@dataclass
class _Sampled:
    inclusive: Counter[str] = field(default_factory=Counter)
    self_: Counter[str] = field(default_factory=Counter)
    first_line: int = 0
    name: str = ""  # as the sampler names it


class FunctionResolver:
    """Maps a sampled (function, file, line) to the yappi function it ran in."""

    def __init__(self, functions: Iterable[YappiFunction]) -> None:
        lines: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.by_identity: dict[Identity, YappiFunction] = {}
        for f in functions:
            key = (f.file, short_name(f.name))
            lines[key].append(f.line)
            self.by_identity[(f.file, key[1], f.line)] = f
        self.lines = {k: sorted(v) for k, v in lines.items()}

    def identity(self, function: str, file: str, line: int) -> Identity:
        key = (file, short_name(function))
        defs = self.lines.get(key)
        if not defs:
            return (file, key[1], None)
        i = bisect.bisect_right(defs, line) - 1
        return (file, key[1], defs[max(i, 0)])


def behaviour(seconds: States, traced_wall_s: float | None, awaiting_s: float | None) -> str:
    """Name what a function mostly did with its time: the rule the report quotes."""
    if traced_wall_s and awaiting_s is not None and awaiting_s >= BEHAVIOUR_SHARE * traced_wall_s:
        return "awaits"
    wall = seconds.total()
    if wall <= 0:
        return "unsampled"
    kinds = {
        "computes": seconds.get("gil_held") + seconds.native,
        "gil_wait": seconds.get("gil_wait"),
        "io_wait": seconds.io,
        "lock_wait": seconds.sync,
    }
    kind, value = max(kinds.items(), key=lambda kv: kv[1])
    return kind if value >= BEHAVIOUR_SHARE * wall else "mixed"


def sampled_functions(
    stacks: Iterable[StackCount],
    frames: list[Frame],
    pid: int,
    resolvers: dict[int, FunctionResolver],
) -> dict[int, dict[Identity, _Sampled]]:
    """Per thread of ``pid``: each function's inclusive and self samples per state."""
    out: dict[int, dict[Identity, _Sampled]] = defaultdict(dict)
    empty = FunctionResolver(())
    for stack in stacks:
        if stack.pid != pid or not stack.frames:
            continue
        resolver = resolvers.get(stack.tid, empty)
        table = out[stack.tid]
        seen: set[Identity] = set()
        leaf: Identity | None = None
        if any(_ours_not_user(frames[i]) for i in stack.frames):
            continue
        for index in stack.frames:
            frame = frames[index]
            if is_launcher(frame.file):
                continue
            ident = resolver.identity(frame.function, frame.file, frame.line)
            entry = table.get(ident)
            if entry is None:
                entry = table[ident] = _Sampled(first_line=frame.line, name=frame.function)
            entry.first_line = min(entry.first_line, frame.line)
            if ident not in seen:
                seen.add(ident)
                entry.inclusive[stack.state] += stack.count
            leaf = ident
        if leaf is not None:
            table[leaf].self_[stack.state] += stack.count
    return out


def _ours_not_user(frame: Frame) -> bool:
    """A frame of concdiag's own work in the target (event pipe, saving tables)."""
    if frame.file == OWN_WORK_FILE:
        return True
    if not is_launcher(frame.file) or "runpy" in frame.file:
        return False
    return short_name(frame.function) not in PASS_THROUGH


def _seconds(counts: Counter[str], interval: float) -> States:
    return States(**{k: counts.get(k, 0) * interval for k in STATE_KEYS})


def _thread_rows(
    yappi_thread: YappiThread | None,
    sampled: dict[Identity, _Sampled],
    interval: float,
    clock: str,
) -> list[DeepFunction]:
    traced: dict[Identity, YappiFunction] = {}
    if yappi_thread is not None:
        for fn in yappi_thread.functions:
            if not is_launcher(fn.file):
                traced[(fn.file, short_name(fn.name), fn.line)] = fn
    rows = []
    for ident in set(traced) | set(sampled):
        f: YappiFunction | None = traced.get(ident)
        s = sampled.get(ident, _Sampled())
        seconds = _seconds(s.inclusive, interval)
        self_seconds = _seconds(s.self_, interval)
        on_cpu = seconds.get("gil_held") + seconds.native
        self_on_cpu = self_seconds.get("gil_held") + self_seconds.native
        traced_wall: float | None = None
        awaiting: float | None = None
        cpu: float | None
        cpu_self: float | None
        if f is not None and clock == "cpu":
            cpu, cpu_self = f.total_s, f.self_s
        elif clock == "wall" and s.inclusive:
            cpu, cpu_self = on_cpu, self_on_cpu
        else:
            cpu = cpu_self = None
        if f is not None and clock == "wall":
            traced_wall = f.total_s
            # Suspended time is what the sampler never saw; below a few samples it is noise.
            unseen = f.total_s - seconds.total()
            awaiting = unseen if unseen >= AWAIT_MIN_SAMPLES * interval else 0.0
        name = f.name if f is not None else (s.name or ident[1])
        rows.append(
            DeepFunction(
                function=name,
                file=ident[0],
                line=f.line if f is not None else s.first_line,
                calls=f.calls if f is not None else None,
                cpu_s=cpu,
                cpu_self_s=cpu_self,
                wall_s=seconds.total(),
                wall_self_s=self_seconds.total(),
                traced_wall_s=traced_wall,
                awaiting_s=awaiting,
                state_seconds=seconds,
                behaviour=behaviour(seconds, traced_wall, awaiting),
            )
        )
    rows = [r for r in rows if _weight(r) >= MIN_ROW_S]
    rows.sort(key=lambda r: (-_weight(r), r.file, r.function, r.line))
    return rows[:FUNCTIONS_PER_THREAD]


def _weight(row: DeepFunction) -> float:
    """How much a row matters: its own time on any measure (inclusive time favours main)."""
    return max(row.cpu_self_s or 0.0, row.wall_self_s, row.awaiting_s or 0.0)


def build_deep(
    run: YappiRun,
    processes: list[ProcessProfile],
    frames: list[Frame],
    stacks: list[StackCount],
    rate_hz: float,
) -> DeepProfile:
    interval = 1.0 / rate_hz
    process = next((p for p in processes if p.pid == run.pid), None)
    sampled_threads = {t.tid: t for t in process.threads} if process is not None else {}
    by_ident = {t.ident: t.tid for t in sampled_threads.values() if t.ident is not None}
    yappi_by_tid: dict[int, YappiThread] = {}
    notes: list[str] = []
    for yt in run.threads:
        tid = yt.tid if yt.tid is not None else by_ident.get(yt.ident)
        if tid is None:
            notes.append(f"yappi thread {yt.name!r} could not be matched to an OS thread")
            continue
        known = yappi_by_tid.get(tid)
        if known is not None and known.total_s >= yt.total_s:
            continue  # one OS thread, two yappi contexts: keep the busier
        yappi_by_tid[tid] = yt
    resolvers = {tid: FunctionResolver(yt.functions) for tid, yt in yappi_by_tid.items()}
    sampled = sampled_functions(stacks, frames, run.pid, resolvers)
    threads = []
    for tid in sorted(set(yappi_by_tid) | set(sampled)):
        thread_run = yappi_by_tid.get(tid)
        st = sampled_threads.get(tid)
        threads.append(
            DeepThread(
                pid=run.pid,
                tid=tid,
                name=st.name
                if st is not None
                else (thread_run.name if thread_run is not None else str(tid)),
                traced=thread_run is not None,
                cpu_s=thread_run.total_s if thread_run is not None and run.clock == "cpu" else None,
                sched_count=thread_run.sched_count if thread_run is not None else None,
                alive_s=st.alive_s if st is not None else 0.0,
                functions_traced=thread_run.functions_total if thread_run is not None else 0,
                functions=_thread_rows(thread_run, sampled.get(tid, {}), interval, run.clock),
            )
        )
    notes.append(
        "yappi slows every Python call (call-heavy code 2-3x), so under --deep the states and "
        "the verdict lean towards CPU: take the verdict from a run without --deep"
    )
    if run.clock == "wall":
        notes.append(
            "yappi used its wall clock, so coroutines' awaits are timed; CPU per function is "
            "estimated from on-CPU samples"
        )
    if any(not p.is_root for p in processes):
        notes.append("child processes are sampled but not traced by yappi")
    return DeepProfile(
        pid=run.pid,
        clock=run.clock,
        clock_reason=run.clock_reason,
        cpu_source="yappi" if run.clock == "cpu" else "sampler",
        yappi_version=run.yappi_version,
        traced_s=run.duration_s,
        collect_s=run.collect_s,
        sched_count=sum(t.sched_count for t in yappi_by_tid.values()),
        ctx_switches_voluntary=process.ctx_switches_voluntary if process is not None else 0,
        ctx_switches_involuntary=process.ctx_switches_involuntary if process is not None else 0,
        threads=threads,
        notes=notes,
    )
