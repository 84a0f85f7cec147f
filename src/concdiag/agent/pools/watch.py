"""Runs inside the target for ``concdiag whatif``: notes what the program does with pools.

Loaded by ``swap.py`` (standard library only, Python 3.10 to 3.15). It
appends one JSON line to the report file per line of the program that created a ``pool``,
started a bare ``thread`` or ``process`` (these cannot be swapped), submitted a task that
failed (``task_error``, with the error: a lambda cannot be pickled, a shared object is not
shared), and on the first read of standard input (``stdin``); at exit, ``counts`` of repeats.
Only the launched process records; forked pool workers inherit this module but stay quiet.
"""

import atexit
import json
import linecache
import os
import re
import sys
import threading

from ..common import is_ours, is_stdlib

CONFIG = {}
PID = -1
_COUNTS = {}
_LOCK = threading.Lock()
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: Standard-library folders whose frames only pass a pool's creation or a task through.
_PASS_THROUGH = (
    os.sep + os.path.join("concurrent", "futures") + os.sep,
    os.sep + "multiprocessing" + os.sep,
)
#: Characters of an error or a source line kept in a record: a stated choice, one line.
_MAX_TEXT = 300


def write(record):
    path = CONFIG.get("report")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8", errors="replace") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")  # one write: appends whole
    except OSError:
        pass


def note(record, key):
    """Write a record the first time ``key`` is seen; count repeats for the exit summary."""
    if os.getpid() != PID:
        return
    with _LOCK:
        seen = key in _COUNTS
        _COUNTS[key] = _COUNTS.get(key, 0) + 1
    if not seen:
        record["key"] = key
        write(record)


def _write_counts():
    if os.getpid() == PID:
        write({"type": "counts", "counts": {k: n for k, n in _COUNTS.items() if n > 1}})


_KINDS = {}  # file name -> ours, pass (pool machinery), stdlib or user: asked once per file


def _kind(filename):
    kind = _KINDS.get(filename)
    if kind is None:
        if is_ours(filename):
            kind = "ours"
        elif is_stdlib(filename):
            kind = "pass" if any(p in filename for p in _PASS_THROUGH) else "stdlib"
        else:
            kind = "user"
        _KINDS[filename] = kind
    return kind


def _walk():
    """The frames of the running thread, innermost first, without concdiag's own."""
    frame = sys._getframe(1)
    while frame is not None:
        if _kind(frame.f_code.co_filename) != "ours":
            yield frame
        frame = frame.f_back


def _passes(filename):
    """A frame of the standard library's pool machinery (it only passes a call through)."""
    return _kind(filename) == "pass"


def creator():
    """(the frame that asked the pool machinery for a pool or task, the first user frame)."""
    immediate = None
    for frame in _walk():
        kind = _kind(frame.f_code.co_filename)
        if kind == "pass":
            continue
        immediate = immediate or frame
        if kind == "user":
            return immediate, frame
    return immediate, immediate


def where_now():
    """(file, line) of the first user frame: cheap, for every task submitted."""
    frame = creator()[1]
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else (None, None)


def site_record(frame=None, where=None):
    """The file, line and source text of ``frame`` (or of a ``where_now()`` taken earlier)."""
    name, line = (frame.f_code.co_filename, frame.f_lineno) if frame else (where or (None, 0))
    if name is None:
        return {"file": None, "line": None, "code": ""}
    text = linecache.getline(name, line).strip()[:_MAX_TEXT]
    name = name if name.startswith("<") else os.path.abspath(name)
    return {"file": name, "line": line, "code": text}


def error_text(exc):
    return _ADDRESS.sub("", f"{type(exc).__name__}: {exc}")[:_MAX_TEXT]


def _task_name(fn):
    inner = getattr(fn, "args", None)
    if getattr(fn, "func", None) is not None and inner:  # ProcessPoolExecutor.map's partial
        fn = inner[0] if callable(inner[0]) else fn.func
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def task_error(exc, where, fn):
    site = site_record(where=where)
    error = error_text(exc)
    key = f"task:{site['file']}:{site['line']}:{error.split(':', 1)[0]}"
    note({"type": "task_error", "error": error, "task": _task_name(fn), **site}, key)


def track(pool):
    """Note each failed task with the line that submitted it."""
    if hasattr(pool, "submit"):
        submit = pool.submit

        def tracked_submit(fn, /, *args, **kwargs):
            where = where_now()
            future = submit(fn, *args, **kwargs)

            def done(f):
                if not f.cancelled() and f.exception() is not None:
                    task_error(f.exception(), where, fn)

            future.add_done_callback(done)
            return future

        pool.submit = tracked_submit
        return
    for method in ("map", "starmap", "apply"):
        original = getattr(pool, method)

        def tracked(func, *args, _original=original, **kwargs):
            where = where_now()
            try:
                return _original(func, *args, **kwargs)
            except Exception as exc:
                task_error(exc, where, func)
                raise

        setattr(pool, method, tracked)


def _watch_starts():
    """Note bare threads and processes the program starts itself: they cannot be swapped."""
    import multiprocessing.process

    def wrap(owner, what):
        start = owner.start

        def tracked_start(self):
            first = next(_walk(), None)
            if first is not None and not _passes(first.f_code.co_filename):
                immediate, user = creator()
                name = immediate.f_code.co_filename if immediate is not None else ""
                site = site_record(user)
                record = {"type": what, **site}
                if immediate is not None and is_stdlib(name):
                    record["via"] = os.path.basename(name)
                note(record, f"{what}:{site['file']}:{site['line']}")
            return start(self)

        owner.start = tracked_start

    wrap(threading.Thread, "thread")
    wrap(multiprocessing.process.BaseProcess, "process")


class _StdinWatch:
    """Stands in for sys.stdin and notes the first read (reruns get /dev/null instead)."""

    _READS = frozenset({"read", "readline", "readlines", "buffer", "fileno", "detach"})

    def __init__(self, stream):
        object.__setattr__(self, "_stream", stream)

    def _seen(self):
        note({"type": "stdin"}, "stdin")

    def __getattr__(self, name):
        if name in self._READS:
            self._seen()
        return getattr(self._stream, name)

    def __setattr__(self, name, value):
        setattr(self._stream, name, value)

    def __iter__(self):
        self._seen()
        return iter(self._stream)

    def __next__(self):
        self._seen()
        return next(self._stream)


def start(config):
    """Start watching: called by ``swap.install`` before the script runs."""
    global CONFIG, PID
    CONFIG = dict(config)
    PID = os.getpid()
    # when the script is about to start, on the system-wide monotonic clock: concdiag times a
    # rerun from here, leaving out the interpreter's own start-up
    write({"type": "started", "t": __import__("time").monotonic()})
    _watch_starts()
    if CONFIG.get("watch") and sys.stdin is not None:
        sys.stdin = _StdinWatch(sys.stdin)
    atexit.register(_write_counts)
