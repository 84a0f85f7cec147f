"""`concdiag dump`'s text: each process, its GIL holder, each thread's state and stack, and
the deadlock when one is seen. Names come from the target: control characters are replaced,
so a thread name cannot move the cursor or recolour the terminal."""

from __future__ import annotations

import re

from concdiag.formatting import place
from concdiag.model.dump import Dump, ProcessDump, ThreadDump

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Frames printed per thread, innermost last; deeper ones are summarised. A stated choice:
#: a screenful for the one or two threads that matter.
FRAMES_SHOWN = 12


def _safe(text: str) -> str:
    return _CONTROL.sub("?", text)


def dump_text(dump: Dump) -> str:
    lines: list[str] = []
    if dump.deadlock:
        lines.append(f"DEADLOCK: {len(dump.deadlock)} threads wait for each other")
        for e in dump.deadlock:
            lines.append(
                f"  {_safe(e.thread)} waits at {e.waits_at} for {_safe(e.lock)}, held by "
                f"{_safe(e.held_by)} since {e.held_since}"
            )
        lines.append("")
    for proc in dump.processes:
        lines += _process(proc)
    return "\n".join(lines).rstrip() + "\n"


def _process(proc: ProcessDump) -> list[str]:
    command = _safe(" ".join(proc.command))
    parent = f", parent {proc.ppid}" if proc.ppid else ""
    lines = [f"process {proc.pid}{parent}, Python {proc.python}: {command}"]
    lines.append(f"  GIL held by: {_safe(proc.gil_holder) if proc.gil_holder else 'nobody'}")
    lines += [f"  note: {_safe(n)}" for n in proc.notes]
    for t in proc.threads:
        lines += _thread(t)
    lines.append("")
    return lines


def _thread(t: ThreadDump) -> list[str]:
    lines = [f"  thread {_safe(t.name)} (tid {t.tid}): {t.state}: {_safe(t.doing)}"]
    for use in t.inside:
        at = place(use.file, use.line)
        lines.append(f"    inside `with {_safe(use.expression)}` ({at}): {_safe(use.identity)}")
    frames = t.frames[-FRAMES_SHOWN:]
    if len(t.frames) > FRAMES_SHOWN:
        lines.append(f"    ... {len(t.frames) - FRAMES_SHOWN} outer frames")
    for f in frames:
        lines.append(f"    {_safe(f.function)} ({_safe(f.file)}:{f.line})")
    return lines
