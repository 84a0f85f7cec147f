"""`concdiag dump`'s analysis: what each thread of a snapshot is doing, which locks its code
is inside and which it waits for, and whether those waits form a cycle.

Locks are read from the program's own source at the lines its stacks stand on, as CPython
keeps no record of a plain lock's owner: a thread blocked on a lock at ``with target.lock:``
waits for ``target.lock``; a thread whose frame stands inside the body of ``with
source.lock:`` holds ``source.lock``. An expression's root name is resolved through the
frame's locals to the object it names (py-spy's address), so ``source.lock`` in one thread
and ``target.lock`` in another are found to be the same lock when ``source`` and ``target``
are the same object. A cycle of such waits is a deadlock.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

from concdiag.analysis.accounting.stack_roles import is_library
from concdiag.analysis.source import ParsedSource, parsed_source
from concdiag.formatting import place
from concdiag.model import Frame
from concdiag.model.dump import Dump, DumpEdge, LockUse, ProcessDump, ThreadDump
from concdiag.recording.snapshot import Descriptor, FrameSnapshot, ProcessSnapshot, ThreadSnapshot
from concdiag.redact import mask_args


def read_dump(snapshots: Sequence[ProcessSnapshot]) -> Dump:
    processes = [_process(p) for p in snapshots]
    return Dump(
        taken_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        processes=processes,
        deadlock=deadlock_cycle(processes),
    )


def _process(snap: ProcessSnapshot) -> ProcessDump:
    threads = [_thread(snap.pid, t, snap.gil_found) for t in snap.threads]
    holder = next((t.name for t in snap.threads if t.owns_gil), None)
    return ProcessDump(
        pid=snap.pid,
        ppid=snap.ppid,
        command=mask_args(list(snap.command)),
        python=snap.python,
        gil_holder=holder,
        threads=threads,
        notes=list(snap.notes),
    )


def _thread(pid: int, t: ThreadSnapshot, gil_found: bool) -> ThreadDump:
    frames = [Frame(f.function, f.file, f.line) for f in reversed(t.frames)]
    state, doing = thread_state(t, gil_found)
    waits_for = lock_waited_for(t) if state == "sync" else None
    return ThreadDump(
        pid=pid,
        tid=t.tid,
        name=t.name,
        state=state,
        doing=doing + _where(t, waits_for),
        frames=frames,
        waits_for=waits_for,
        inside=locks_inside(t),
    )


def thread_state(t: ThreadSnapshot, gil_found: bool) -> tuple[str, str]:
    """The thread's state now, and the same in words."""
    blocked = t.proc_state not in ("R", "?") and t.syscall is not None
    if t.owns_gil:
        if blocked:
            return "gil_held", f"holds the GIL while blocked in system call {t.syscall}"
        return "gil_held", "running Python, holding the GIL"
    if t.futex_on_gil:
        return "gil_wait", "waiting for the GIL"
    if t.proc_state == "R" or t.syscall is None:
        return "native", "running without the GIL (native code), or waiting for a CPU"
    if t.call_kind == "futex":
        maybe = "" if gil_found else " (or the GIL: its address was not found)"
        return "sync", "blocked on a lock or condition" + maybe
    if t.call_kind == "sleep":
        return "sleep", "sleeping"
    if t.descriptors:
        return "io", "blocked on I/O: " + "; ".join(describe(d) for d in t.descriptors)
    if t.call_kind in ("fd", "poll", "select", "epoll"):
        return "io", f"blocked on I/O ({t.call_kind})"
    if t.call_kind == "child":
        return "child", "waiting for a child process to exit"
    return "waiting", f"blocked in system call {t.syscall}"


def describe(d: Descriptor) -> str:
    if d.kind == "socket" and d.local is not None:
        return f"socket fd {d.fd} {d.local} -> {d.remote} ({d.tcp_state})"
    if d.kind == "socket":
        return f"socket fd {d.fd} (a local socket, {d.target})"
    if d.kind == "pipe":
        return f"pipe fd {d.fd} ({d.target})"
    return f"{d.kind} fd {d.fd} ({d.target})"


def _where(t: ThreadSnapshot, waits_for: LockUse | None) -> str:
    if waits_for is not None:
        return f" at {place(waits_for.file, waits_for.line)}: {waits_for.expression}"
    own = next((f for f in t.frames if not is_library(f.file)), None)
    leaf = t.frames[0] if t.frames else None
    if leaf is None:
        return ""
    at = f" in {leaf.function} ({place(leaf.file, leaf.line)})"
    if own is not None and own is not leaf:
        at += f", called at {place(own.file, own.line)}"
    return at


# -- locks, from the source at the stacks' lines ---------------------------------------------


def lock_waited_for(t: ThreadSnapshot) -> LockUse | None:
    """The lock a blocked thread waits for: the expression taken at its innermost line of the
    program's own code (``with EXPR:`` or ``EXPR.acquire(...)``)."""
    for frame in t.frames:
        if is_library(frame.file):
            continue
        for expression in _taken_at(frame.file, frame.line):
            return LockUse(expression, _identity(expression, frame), frame.file, frame.line)
        return None
    return None


def locks_inside(t: ThreadSnapshot) -> list[LockUse]:
    """The ``with`` blocks of the program's own code that the thread's frames stand inside."""
    out: list[LockUse] = []
    for frame in t.frames:
        if is_library(frame.file):
            continue
        for expression, header in _enclosing_withs(frame.file, frame.line):
            out.append(LockUse(expression, _identity(expression, frame), frame.file, header))
    return out


def _identity(expression: str, frame: FrameSnapshot) -> str:
    """The object an expression names: its root local's object, then the attribute path."""
    root, _, path = expression.partition(".")
    local = next((v for v in frame.locals if v.name == root), None)
    if local is None:
        return f"{expression} ({frame.file})"
    shown = (
        local.repr if f"{local.address:x}" in local.repr else f"{local.repr} at {local.address:#x}"
    )
    return shown + (f".{path}" if path else "")


@dataclass(frozen=True, slots=True)
class _LockSyntax:
    """One file's places that take something: ``with`` statements (their line, their body's
    lines, their items) and ``.acquire()`` calls (their line, the object)."""

    withs: tuple[tuple[int, int, int, tuple[str, ...]], ...]  # line, body first, last, items
    acquires: tuple[tuple[int, str], ...]


@lru_cache(maxsize=64)
def _lock_syntax(source: ParsedSource) -> _LockSyntax:
    withs, acquires = [], []
    for node in ast.walk(source.tree):
        if isinstance(node, ast.With | ast.AsyncWith) and node.body:
            last = node.body[-1].end_lineno or node.body[-1].lineno
            items = tuple(ast.unparse(item.context_expr) for item in node.items)
            withs.append((node.lineno, node.body[0].lineno, last, items))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "acquire"
        ):
            acquires.append((node.lineno, ast.unparse(node.func.value)))
    return _LockSyntax(tuple(sorted(withs)), tuple(acquires))


def _syntax(file: str) -> _LockSyntax | None:
    source = parsed_source(file)
    return _lock_syntax(source) if source is not None else None


def _taken_at(file: str, line: int) -> list[str]:
    """Lock expressions acquired at this line: ``with`` items and ``.acquire()`` calls."""
    syntax = _syntax(file)
    if syntax is None:
        return []
    found = [item for at, _, _, items in syntax.withs if at == line for item in items]
    return found + [obj for at, obj in syntax.acquires if at == line]


def _enclosing_withs(file: str, line: int) -> list[tuple[str, int]]:
    """(expression, header line) of each ``with`` whose body holds ``line``, outermost first."""
    syntax = _syntax(file)
    if syntax is None:
        return []
    return [
        (item, at)
        for at, first, last, items in syntax.withs
        if first <= line <= last
        for item in items
    ]


# -- the cycle ---------------------------------------------------------------------------


def deadlock_cycle(processes: Sequence[ProcessDump]) -> list[DumpEdge] | None:
    """A cycle of threads each waiting for a lock another is inside; None when none is seen."""
    for proc in processes:
        holders: dict[str, tuple[ThreadDump, LockUse]] = {}
        for t in proc.threads:
            for use in t.inside:
                holders.setdefault(use.identity, (t, use))
        waits: dict[int, tuple[ThreadDump, LockUse, ThreadDump, LockUse]] = {}
        for t in proc.threads:
            if t.waits_for is None or t.waits_for.identity not in holders:
                continue
            holder, held = holders[t.waits_for.identity]
            if holder.tid != t.tid:
                waits[t.tid] = (t, t.waits_for, holder, held)
        cycle = _cycle(waits)
        if cycle:
            return [
                DumpEdge(
                    pid=proc.pid,
                    thread=t.name,
                    waits_at=place(w.file, w.line),
                    lock=f"{w.expression} ({w.identity})",
                    held_by=h.name,
                    held_since=place(held.file, held.line),
                )
                for t, w, h, held in cycle
            ]
    return None


def _cycle(
    waits: dict[int, tuple[ThreadDump, LockUse, ThreadDump, LockUse]],
) -> list[tuple[ThreadDump, LockUse, ThreadDump, LockUse]]:
    for start in sorted(waits):
        path: list[int] = []
        tid = start
        while tid in waits and tid not in path:
            path.append(tid)
            tid = waits[tid][2].tid
        if tid in path:
            return [waits[t] for t in path[path.index(tid) :]]
    return []
