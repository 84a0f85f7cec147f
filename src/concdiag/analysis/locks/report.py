"""The profile's ``locks`` part, from the lock tracker's tables and the sampled threads.

Pure functions. Each lock site (a line that creates locks) becomes a `LockProfile` named by
what its line assigns it to; its critical sections (the lines where it was taken) are joined
with the sampled stacks inside their ``with`` blocks, which say whether the section computes
or blocks; the advice follows from that. A deadlock found by the tracker becomes a
`Deadlock` with each thread's stack, concdiag's own frames taken out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePath

from concdiag.analysis.locks.critical_sections import Extent, block_end, source_line, states_inside
from concdiag.analysis.verdict.thresholds import (
    CS_BLOCKED_SHARE,
    CS_NATIVE_SHARE,
    HOT_LOCK_MEAN_HOLD_S,
    HOT_LOCK_RATE_HZ,
    MIN_CS_SAMPLES,
)
from concdiag.model import Frame, ProcessProfile, StackCount
from concdiag.model.locks import (
    CodeLine,
    CriticalSection,
    Deadlock,
    DeadlockEdge,
    LockProfile,
    LockReport,
    LockWaiter,
    ThreadStack,
    WaitLine,
)
from concdiag.own_code import strip_own
from concdiag.recording.locks import DeadlockRecord, Line, LockSiteRecord, LockTables, ThreadRef

#: Locks listed in the profile (contended first): the rest are counted in `lock_sites`.
LOCKS_LISTED = 20
#: Critical sections, wait lines and waiters listed per lock.
PER_LOCK = 10
#: States of a holder inside its critical section that tell computing from blocking.
_HOLDER_STATES = ("gil_held", "gil_wait", "native", "io")
#: Locks the interpreter makes for its own bookkeeping (each Thread's start event): counted in
#: `lock_sites`, never listed.
_MACHINERY = ("threading.Thread",)
_WITH = re.compile(r"^\s*(?:async\s+)?with\s+(.+?)\s*(?:as\s+\w+\s*)?:\s*(?:#.*)?$")
_ACQUIRE = re.compile(r"([A-Za-z_][\w.\[\]]*)\.acquire\(")
_ASSIGNED = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?::[^=]+)?=(?!=)")


def code_line(at: Line) -> CodeLine:
    return CodeLine(at[0], at[1], at[2])


def lock_name(code: str, function: str) -> str | None:
    """What a creating line assigns the lock to: ``self.lock`` in ``Ledger.__init__`` is
    ``Ledger.lock``; a plain name stays itself; None when the line assigns nothing."""
    match = _ASSIGNED.match(code)
    if match is None:
        return None
    name = match.group(1)
    owner = function.rsplit(".", 1)[0] if "." in function else None
    if name.startswith("self.") and owner and not owner.startswith("<"):
        return owner + name[4:]
    return name


def taken_as(code: str) -> str | None:
    """The lock expression of a line that takes one: ``with target.lock:`` is
    ``target.lock``; ``self.lock.acquire()`` is ``self.lock``."""
    match = _WITH.match(code)
    if match is not None:
        return match.group(1)
    match = _ACQUIRE.search(code)
    return match.group(1) if match is not None else None


def _thread_seconds(processes: Sequence[ProcessProfile], pid: int) -> dict[int, float]:
    """OS thread id -> its sampled `sync` seconds over its observed time, in the tracked
    process: the sync share of the ticks the sampler saw, times the alive time (ticks it
    missed are `unknown`; the tracker saw those waits too)."""
    for process in processes:
        if process.pid == pid:
            return {
                t.tid: t.state_seconds.sync * t.alive_s / (t.alive_s - t.state_seconds.unknown)
                for t in process.threads
                if t.alive_s > t.state_seconds.unknown
            }
    return {}


def _waiters_sync(site: LockSiteRecord, sync_by_tid: dict[int, float]) -> float | None:
    """The sampled sync seconds of every thread that waited for the site's locks."""
    tids = {w.native_id for w in site.waiters if w.native_id is not None}
    found = [sync_by_tid[tid] for tid in tids if tid in sync_by_tid]
    return sum(found) if found and site.kind != "asyncio.Lock" else None


def _advice(
    site: LockSiteRecord, sections: list[CriticalSection], duration_s: float, rate_hz: float
) -> tuple[str, str]:
    """What to change about a contended lock, from what its busiest critical section does."""
    if site.contended == 0 or site.wait_s <= 0:
        return "none", ""
    top = sections[0] if sections else None
    where = top.at.place if top else "its critical section"
    # `sync` inside is left out: a nested lock's wait, or a waiter's sample joined with the
    # holder's stack across a state change (the join's one-tick error; measurement.md).
    states = {k: v for k, v in top.states.items() if k in _HOLDER_STATES} if top else {}
    inside = sum(states.values())
    sampled = inside * rate_hz >= MIN_CS_SAMPLES
    blocked = states.get("io", 0.0) / inside if sampled else 0.0
    cpu = inside - states.get("io", 0.0)
    native = states.get("native", 0.0) / cpu if sampled and cpu > 0 else 0.0
    if blocked >= CS_BLOCKED_SHARE:
        return "move_blocking_call", (
            f"The critical section at {where} blocks (I/O or sleep) for "
            f"{100 * blocked:.0f}% of its sampled time while holding the lock: move the "
            "blocking call out of the lock, or give each worker its own resource (a "
            "connection or file per worker) so that no lock is needed."
        )
    rate = site.acquisitions / duration_s if duration_s > 0 else 0.0
    mean_hold = site.hold_s / site.acquisitions if site.acquisitions else 0.0
    if rate >= HOT_LOCK_RATE_HZ and mean_hold < HOT_LOCK_MEAN_HOLD_S:
        return "take_less_often", (
            f"The lock is taken {rate:.0f} times a second for {1e6 * mean_hold:.0f} µs on "
            f"average (at {where}): take it less often. Let each worker accumulate its own "
            "results and merge them at the end, or batch the updates, or split the lock."
        )
    if native >= CS_NATIVE_SHARE:
        return "own_resource", (
            f"The critical section at {where} runs native code with the GIL released "
            f"({100 * native:.0f}% of its CPU), which threads could run in parallel, but "
            "the lock serialises it: give each worker its own instance of what the lock "
            "guards (its own compressor, parser or connection) and merge the results at "
            "the end."
        )
    return "shorten_or_split", (
        f"Shorten the critical section at {where} or split the lock; if the lock only "
        "guards data that each process could keep its own copy of, processes remove it."
    )


def _section_lines(site: LockSiteRecord) -> list[Line]:
    """The lines where the lock was taken, by the waits they caused, then by hold time."""
    holds = {h.at: h.hold_s for h in site.hold_sites}
    caused = {h.at: h.wait_s for h in site.holder_sites}
    return sorted(
        set(holds) | set(caused), key=lambda at: (-caused.get(at, 0.0), -holds.get(at, 0.0))
    )[:PER_LOCK]


def _sections(
    site: LockSiteRecord, states: dict[Extent, dict[str, float]]
) -> list[CriticalSection]:
    holds = {h.at: h for h in site.hold_sites}
    caused = {h.at: h for h in site.holder_sites}
    sections = []
    for at in _section_lines(site):
        end = block_end(at[0], at[1])
        hold = holds.get(at)
        cause = caused.get(at)
        sections.append(
            CriticalSection(
                at=code_line(at),
                end_line=end,
                waits_caused=cause.waits if cause else 0,
                wait_caused_s=cause.wait_s if cause else 0.0,
                timed_holds=hold.timed if hold else 0,
                hold_s=hold.hold_s if hold else 0.0,
                hold_max_s=hold.hold_max_s if hold else 0.0,
                states={} if end is None else states.get((at[0], at[1], end), {}),
            )
        )
    return sections


def _lock(
    index: int,
    site: LockSiteRecord,
    sync_by_tid: dict[int, float],
    states: dict[Extent, dict[str, float]],
    rate_hz: float,
    duration_s: float,
) -> LockProfile:
    file, line, function = site.created_at
    code = source_line(file, line)
    sections = _sections(site, states)
    kind, advice = _advice(site, sections, duration_s, rate_hz)
    task = site.kind == "asyncio.Lock"
    return LockProfile(
        id=index,
        kind=site.kind,
        name=lock_name(code, function),
        inside=site.inside,
        created_at=code_line(site.created_at),
        code=code.strip(),
        instances=site.instances,
        acquisitions=site.acquisitions,
        contended=site.contended,
        wait_s=site.wait_s,
        wait_max_s=site.wait_max_s,
        wake_s=site.wake_s,
        waiters_sync_s=_waiters_sync(site, sync_by_tid),
        hold_s=site.hold_s if site.timed_holds else None,
        hold_max_s=site.hold_max_s if site.timed_holds else None,
        timed_holds=site.timed_holds,
        notify_waits=site.notify_waits,
        notify_wait_s=site.notify_wait_s,
        waiting_at_end=site.waiting_now,
        waiting_threads=len(site.waiters),
        waiters=[
            LockWaiter(
                tid=None if task else w.native_id,
                name=w.name,
                waits=w.waits,
                wait_s=w.wait_s,
                wait_max_s=w.wait_max_s,
                sync_s=None if task or w.native_id is None else sync_by_tid.get(w.native_id),
            )
            for w in site.waiters[:PER_LOCK]
        ],
        wait_lines=[
            WaitLine(code_line(w.at), w.waits, w.wait_s, w.wait_max_s or 0.0)
            for w in site.wait_sites[:PER_LOCK]
        ],
        critical_sections=sections,
        advice_kind=kind,
        advice=advice,
    )


def _thread_name(ref: ThreadRef) -> str:
    return ref.name or f"thread {ref.native_id or ref.ident}"


def _deadlock(record: DeadlockRecord, locks: list[LockProfile]) -> Deadlock:
    by_site = {(lock.created_at.file, lock.created_at.line): lock for lock in locks}
    instances: dict[tuple[str, int], list[int]] = {}
    for edge in record.cycle:
        seen = instances.setdefault(edge.lock_created_at, [])
        if edge.lock_instance not in seen:
            seen.append(edge.lock_instance)
    edges = []
    for edge in record.cycle:
        lock = by_site.get(edge.lock_created_at)
        where = f"{PurePath(edge.lock_created_at[0]).name}:{edge.lock_created_at[1]}"
        name = lock.prose_name if lock else f"the lock created at {where}"
        same_line = instances[edge.lock_created_at]
        if len(same_line) > 1:  # two locks from one line (two accounts): number them
            name = name.replace(" (", f" #{same_line.index(edge.lock_instance) + 1} (", 1)
        held = edge.held_since
        edges.append(
            DeadlockEdge(
                tid=edge.thread.native_id,
                thread=_thread_name(edge.thread),
                lock_id=lock.id if lock else None,
                lock=name,
                waiting_at=code_line(edge.waiting_at),
                waiting_code=source_line(edge.waiting_at[0], edge.waiting_at[1]).strip(),
                waiting_s=edge.waiting_s,
                held_by_tid=edge.held_by.native_id,
                held_by=_thread_name(edge.held_by),
                held_since=code_line(held) if held else None,
                held_code=source_line(held[0], held[1]).strip() if held else "",
            )
        )
    stacks = [
        ThreadStack(
            tid=s.thread.native_id,
            name=_thread_name(s.thread),
            frames=[
                CodeLine(f[1], f[2], f[0])
                for f in strip_own([(fn, file, line) for file, line, fn in s.frames])
            ],
        )
        for s in record.stacks
    ]
    return Deadlock(
        confirmed=True,
        message=deadlock_message(edges),
        lasted_s=record.detected_s - record.formed_s,
        detected_at_s=record.detected_s,
        cycle=edges,
        stacks=stacks,
    )


def _line_ref(at: CodeLine, code: str) -> str:
    expression = taken_as(code)
    return at.place + (f" ({expression})" if expression else "")


def deadlock_message(edges: Sequence[DeadlockEdge]) -> str:
    """One clause per edge: who waits where for which lock, held by whom since where."""
    parts = []
    for e in edges:
        holder = "itself" if e.held_by_tid == e.tid and e.held_by == e.thread else e.held_by
        since = f", which took it at {_line_ref(e.held_since, e.held_code)}" if e.held_since else ""
        parts.append(
            f"{e.thread} waits at {_line_ref(e.waiting_at, e.waiting_code)} for {e.lock}, "
            f"held by {holder}{since}"
        )
    return "; ".join(parts) + "."


def lock_report(
    tables: LockTables,
    processes: Sequence[ProcessProfile],
    frames: Sequence[Frame],
    stacks: Sequence[StackCount],
    rate_hz: float,
) -> LockReport:
    """The ``locks`` part of a launched profile from the tracker's tables."""
    sync_by_tid = _thread_seconds(processes, tables.pid)
    ranked = sorted(
        (s for s in tables.sites if s.inside not in _MACHINERY),
        key=lambda s: (-s.wait_s, -s.notify_wait_s, -s.acquisitions),
    )[:LOCKS_LISTED]
    extents = []
    for site in ranked:
        for at in _section_lines(site):
            end = block_end(at[0], at[1])
            if end is not None:
                extents.append((at[0], at[1], end))
    states = states_inside(extents, frames, stacks, rate_hz)
    locks = [
        _lock(i, site, sync_by_tid, states, rate_hz, tables.duration_s)
        for i, site in enumerate(ranked)
    ]
    thread_sites = [s for s in tables.sites if s.kind != "asyncio.Lock"]
    waiting = {w.native_id for s in thread_sites for w in s.waiters if w.native_id is not None}
    matched = [sync_by_tid[tid] for tid in waiting if tid in sync_by_tid]
    notes = []
    if tables.sites_total > len(locks):
        notes.append(
            f"{tables.sites_total} lines created tracked locks; {len(locks)} are listed, the "
            "most waited for first"
        )
    return LockReport(
        tracked=True,
        sample_every=tables.sample_every,
        lock_sites=tables.sites_total,
        wait_s=sum(s.wait_s for s in thread_sites),
        waiting_threads_sync_s=sum(matched) if matched else None,
        locks=locks,
        deadlock=_deadlock(tables.deadlock, locks) if tables.deadlock else None,
        notes=notes,
    )
