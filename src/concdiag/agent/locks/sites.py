"""Lock tracking inside the target: per-site statistics, source lines, the tables file.

Used by ``tracker.py`` (standard library only, Python 3.10 to 3.15). A *site*
is a line that creates locks; everything measured about the locks it created is summed on its
`Site`. Lines are ``(file, line, function)`` tuples.
"""

import os
import sys
import threading

from ..common import AGENT_DIR, is_ours, is_stdlib, write_atomic

_stdlib = os.path.dirname(os.path.abspath(threading.__file__))
#: Entries kept per list in the tables (the largest first).
TOP = 20
TOP_WAITERS = 50
#: (file, line) -> Site, every creation site seen.
SITES = {}
_library = {}
_lines = {}


def is_library(filename):
    """Standard library or concdiag: frames to step over to find the user's line."""
    known = _library.get(filename)
    if known is None:
        known = _library[filename] = is_stdlib(filename) or is_ours(filename)
    return known


def line_at(code, lasti):
    """The source line of the instruction at byte offset ``lasti`` (cached)."""
    key = (code, lasti)
    line = _lines.get(key)
    if line is None:
        line = code.co_firstlineno
        for start, end, number in code.co_lines():
            if start <= lasti < end:
                line = number or line
                break
        _lines[key] = line
    return line


def name_of(code):
    return getattr(code, "co_qualname", code.co_name)


def site_of(frame, lasti, live=False):
    """(file, line, function) of the user's line at ``frame``: library frames stepped over."""
    if frame is None:
        return None
    try:
        return _site_of(frame, lasti)
    except Exception:  # a frame in an odd state: never fail the user's thread for it
        return ("?", 0, "?")


def _site_of(frame, lasti):
    code = frame.f_code
    if not is_library(code.co_filename):
        return (code.co_filename, line_at(code, lasti), name_of(code))
    outer = frame.f_back
    while outer is not None and is_library(outer.f_code.co_filename):
        outer = outer.f_back
    if outer is None:
        return (code.co_filename, line_at(code, lasti), name_of(code))
    return (outer.f_code.co_filename, outer.f_lineno, name_of(outer.f_code))


def _inside(frame):
    """The standard-library class (e.g. ``queue.Queue``) whose code created a lock, or None."""
    code = frame.f_code
    if code.co_filename.startswith(AGENT_DIR) or not code.co_filename.startswith(_stdlib):
        return None  # concdiag's own frames, and frozen ones (runpy) that have no module path
    module = os.path.relpath(code.co_filename, _stdlib)
    module = module[:-3] if module.endswith(".py") else module
    module = module.replace(os.sep, ".").replace(".__init__", "")
    owner = frame.f_locals.get("self")
    cls = type(owner).__name__ if owner is not None else name_of(code).split(".")[0]
    return f"{module}.{cls}"


def creation_site(frame, kind):
    """The `Site` of the user's line creating a lock (``frame``: the factory's caller)."""
    inside = None
    creator = frame
    while frame is not None and is_library(frame.f_code.co_filename):
        inside = _inside(frame) or inside
        frame = frame.f_back
    if frame is None:
        # No user frame (a program that is all standard library, such as `-m compileall`):
        # the library line that created the lock, never the outermost frame (concdiag's
        # bootstrap, which would name every such lock after its own line).
        frame = creator
    code = frame.f_code
    key = (code.co_filename, frame.f_lineno)
    site = SITES.get(key)
    if site is None:
        site = SITES[key] = Site(key[0], key[1], name_of(code), kind, inside)
    elif inside is None and site.inside is not None:
        site.kind, site.inside = kind, None  # the line the user wrote names the primitive
    site.instances += 1
    return site


class Site:
    """What the locks created at one line did: counts, waits, holds, who and where."""

    __slots__ = (
        "contended",
        "file",
        "function",
        "hold_max_s",
        "hold_s",
        "hold_sites",
        "holder_sites",
        "inside",
        "instances",
        "kind",
        "line",
        "n",
        "notify_wait_s",
        "notify_waits",
        "timed_holds",
        "wait_max_s",
        "wait_s",
        "wait_sites",
        "waiters",
        "wake_s",
    )

    def __init__(self, file, line, function, kind, inside):
        self.file, self.line, self.function = file, line, function
        self.kind, self.inside = kind, inside
        self.instances = self.n = self.contended = self.timed_holds = self.notify_waits = 0
        self.wait_s = self.wait_max_s = self.hold_s = self.hold_max_s = 0.0
        self.notify_wait_s = self.wake_s = 0.0
        self.waiters = {}  # ident -> [native_id, name, waits, seconds, longest]
        self.wait_sites = {}  # line -> [waits, seconds, longest]
        self.holder_sites = {}  # line where the holder took it -> [waiters, seconds waited]
        self.hold_sites = {}  # line -> [timed holds, seconds (scaled), longest]

    def add_wait(self, waited, ident, native_id, name, waiting_at):
        self.contended += 1
        self.wait_s += waited
        if waited > self.wait_max_s:
            self.wait_max_s = waited
        w = self.waiters.get(ident)
        if w is None:
            w = self.waiters[ident] = [native_id, name, 0, 0.0, 0.0]
        w[1] = name
        w[2] += 1
        w[3] += waited
        w[4] = max(w[4], waited)
        _add(self.wait_sites, waiting_at, waited)

    def add_caused(self, where, waits, seconds):
        """Threads waited ``seconds`` in all while the lock was held from ``where``."""
        h = self.holder_sites.setdefault(where or ("?", 0, "?"), [0, 0.0])
        h[0] += waits
        h[1] += seconds

    def add_hold(self, held, weight, where):
        """A timed hold; weight 0: timed only from a waiter's arrival (a lower bound that
        counts towards the longest hold, not towards the scaled total)."""
        h = self.hold_sites.setdefault(where or ("?", 0, "?"), [0, 0.0, 0.0])
        if held > self.hold_max_s:
            self.hold_max_s = held
        h[2] = max(h[2], held)
        if weight:
            self.timed_holds += 1
            self.hold_s += held * weight
            h[0] += 1
            h[1] += held * weight

    def add_notify_wait(self, waited):
        self.notify_waits += 1
        self.notify_wait_s += waited


def _add(table, key, seconds):
    entry = table.setdefault(key, [0, 0.0, 0.0])
    entry[0] += 1
    entry[1] += seconds
    entry[2] = max(entry[2], seconds)


def _top(table, rank, limit):
    rows = sorted(table.items(), key=lambda item: -item[1][rank])[:limit]
    return [list(key) + list(value) for key, value in rows]


def _site_table(site, index, waiting):
    """One site as JSON, with the waits still in progress (``waiting``) added in."""
    wait_s, contended, longest = site.wait_s, site.contended, site.wait_max_s
    waiters = {k: list(v) for k, v in site.waiters.items()}
    wait_sites = {k: list(v) for k, v in site.wait_sites.items()}
    for ident, native_id, name, seconds, at in waiting:
        wait_s += seconds
        contended += 1
        longest = max(longest, seconds)
        w = waiters.setdefault(ident, [native_id, name, 0, 0.0, 0.0])
        w[2], w[3], w[4] = w[2] + 1, w[3] + seconds, max(w[4], seconds)
        _add(wait_sites, at, seconds)
    return {
        "id": index,
        "kind": site.kind,
        "inside": site.inside,
        "file": site.file,
        "line": site.line,
        "function": site.function,
        "instances": site.instances,
        "acquisitions": site.n,
        "contended": contended,
        "waiting_now": len(waiting),
        "wait_s": wait_s,
        "wait_max_s": longest,
        "wake_s": site.wake_s,
        "timed_holds": site.timed_holds,
        "hold_s": site.hold_s,
        "hold_max_s": site.hold_max_s,
        "notify_waits": site.notify_waits,
        "notify_wait_s": site.notify_wait_s,
        "waiters": [[k, *v] for k, v in sorted(waiters.items(), key=lambda kv: -kv[1][3])][
            :TOP_WAITERS
        ],
        "wait_sites": _top(wait_sites, 1, TOP),
        "holder_sites": _top(site.holder_sites, 1, TOP),
        "hold_sites": _top(site.hold_sites, 1, TOP),
    }


def tables(config, waiting, deadlock, now):
    """Every active site as the tables concdiag reads (``waiting``: waits in progress)."""
    by_site = {}
    for ident, site, seconds, at in waiting:
        thread = threading._active.get(ident)
        native_id = getattr(thread, "native_id", None)
        name = getattr(thread, "name", "")
        by_site.setdefault(id(site), []).append((ident, native_id, name, seconds, at))
    active = [s for s in SITES.values() if s.n or s.contended or s.notify_waits or id(s) in by_site]
    active.sort(key=lambda s: (-s.wait_s, -s.n))
    return {
        "format": "concdiag-locks",
        "version": 1,
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "sample_every": config["every"],
        "deadlock_after_s": config["deadlock_after"],
        "duration_s": now - config["t0"],
        "sites_total": len(SITES),
        "sites": [_site_table(s, i, by_site.get(id(s), [])) for i, s in enumerate(active)],
        "deadlock": deadlock,
    }


def save(config, waiting, stats_lock, deadlock=None):
    """Write the tables (atomically), with the waits in progress; only in the tracker's
    process (a forked child is not tracked). Never raises: it runs at the target's exit."""
    import time

    out = config["out"]
    if not out or os.getpid() != config["pid"]:
        return
    if deadlock is not None:
        config["deadlock"] = deadlock  # kept for the writes that follow (at exit)
    now = time.monotonic()
    try:
        with stats_lock:
            waits = [(i, e[0]._site, now - e[1], e[2]) for i, e in list(waiting.items())]
            data = tables(config, waits, config.get("deadlock"), now)
    except Exception as exc:  # concdiag says why there are no tables
        data = {"format": "concdiag-locks", "error": f"{type(exc).__name__}: {exc}"}
    write_atomic(out, data)
