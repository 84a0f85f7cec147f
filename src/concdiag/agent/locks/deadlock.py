"""Lock tracking inside the target: the wait-for graph, and the deadlock report.

Used by ``tracker.py`` (standard library only, Python 3.10 to 3.15). A
waiting thread waits for a lock (``WAITING``: thread ident -> (lock, since, line, untimed));
the lock is held by its owner, who may itself wait: following these edges from a thread back
to itself is a deadlock. Only untimed waits count (a timed one ends by itself), and a lock
released by a thread other than its owner (used as a signal) breaks the chain.
"""

import sys
import threading
import time

from . import sites as _sites


def check(me, waiting, config, report_lock, save):
    """Report a cycle through ``me`` that has lasted ``deadlock_after`` seconds, once.

    Never raises: the thread is the user's, waiting for the user's lock."""
    try:
        edges = cycle_through(me, waiting)
        if edges is None:
            return
        formed = max(entry[1] for _, entry, _ in edges)
        after = config["deadlock_after"]
        if time.monotonic() - formed < after or not report_lock.acquire(False):
            return
        config["stuck"] = frozenset(thread for thread, _, _ in edges)
        report(edges, formed, after, config, save)
    except Exception:
        pass


def cycle_through(me, waiting):
    """The edges (thread, its wait entry, the lock's owner) of a cycle through ``me``, or None."""
    edges = []
    thread = me
    while True:
        entry = waiting.get(thread)
        if entry is None or not entry[3]:
            return None
        lock = entry[0]
        owner = lock._owner
        if owner is None or lock._handoff:
            return None
        edges.append((thread, entry, owner))
        if owner == me:
            return edges
        if len(edges) > len(waiting):
            return None  # a cycle that does not pass through this thread: its members report it
        thread = owner


def _thread_of(ident):
    thread = threading._active.get(ident)
    return {
        "ident": ident,
        "native_id": getattr(thread, "native_id", None),
        "name": getattr(thread, "name", f"thread {ident}"),
    }


def _stack(frame):
    frames = []
    while frame is not None:
        code = frame.f_code
        frames.append([code.co_filename, frame.f_lineno, _sites.name_of(code)])
        frame = frame.f_back
    frames.reverse()
    return frames


def report(edges, formed, after, config, save):
    """Write the tables with the cycle and the stacks, then tell concdiag (once)."""

    now = time.monotonic()
    current = sys._current_frames()
    cycle = []
    for ident, entry, owner in edges:
        lock = entry[0]
        site = lock._site
        cycle.append(
            {
                "thread": _thread_of(ident),
                "lock": {"file": site.file, "line": site.line, "instance": id(lock)},
                "waiting_at": list(entry[2]),
                "waiting_s": now - entry[1],
                "held_by": _thread_of(owner),
                "held_since": list(_sites.site_of(lock._frame, lock._lasti) or ()),
            }
        )
    deadlock = {
        "cycle": cycle,
        "formed_s": formed - config["t0"],
        "detected_s": now - config["t0"],
        "deadlock_after_s": after,
        "stacks": [
            {**_thread_of(ident), "frames": _stack(current.get(ident))}
            for ident in sorted({e[0] for e in edges})
        ],
    }
    save(deadlock)
    send = config.get("send")
    if send is not None:
        send({"type": "deadlock", "t": now, "threads": len(cycle)})
