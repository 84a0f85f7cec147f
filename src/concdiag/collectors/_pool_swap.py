"""Runs inside the target for ``concdiag whatif``: swaps the kind and size of its pools.

Loaded by the bootstrap by file path when ``CONCDIAG_POOL_SWAP`` holds a JSON config (``kind``:
as_written, threads, processes or interpreters; ``workers``; ``report``: where to append JSON
lines; ``watch``: also note reads of stdin and failed tasks of unswapped pools). Standard
library only, Python 3.10 to 3.13, nothing from concdiag.

It rebinds ``concurrent.futures.ThreadPoolExecutor`` / ``ProcessPoolExecutor`` and
``multiprocessing.pool.ThreadPool`` / ``Pool`` (which ``multiprocessing.Pool()`` creates) to
subclasses whose ``__new__`` builds the pool asked for; ``isinstance`` still answers for the
originals. Only the launched process swaps; a pool subclass keeps its kind, and so do pools the
standard library makes (asyncio's default executor). It records one JSON line per ``pool``
line (what it became, or why not), bare ``thread`` / ``process`` start (not swappable),
``task_error`` (with the submitting line: a lambda cannot be pickled, a shared object is not
shared) and ``stdin`` read; ``counts`` of repeats at exit.
"""

import json
import linecache
import os
import re
import sys
import threading

_CONFIG = {}
_PID = -1
_COUNTS = {}
_LOCK = threading.Lock()
_HERE = os.path.dirname(os.path.abspath(__file__))
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
#: Standard-library folders whose frames only pass a pool's creation or a task through.
_PASS_THROUGH = (
    os.sep + os.path.join("concurrent", "futures") + os.sep,
    os.sep + "multiprocessing" + os.sep,
)
#: Characters of an error or a source line kept in a record: a stated choice, one line.
_MAX_TEXT = 300


_STDLIB = tuple(
    os.path.join(__import__("sysconfig").get_paths()[k], "") for k in ("stdlib", "platstdlib")
)


def _is_stdlib(filename):
    if filename.startswith("<frozen"):
        return True
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    return filename.startswith(_STDLIB)


def _is_ours(filename):
    return os.path.dirname(os.path.abspath(filename)) == _HERE if filename else False


def _write(record):
    path = _CONFIG.get("report")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8", errors="replace") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")  # one write: appends whole
    except OSError:
        pass


def _note(record, key):
    """Write a record the first time ``key`` is seen; count repeats for the exit summary."""
    if os.getpid() != _PID:
        return
    with _LOCK:
        seen = key in _COUNTS
        _COUNTS[key] = _COUNTS.get(key, 0) + 1
    if not seen:
        record["key"] = key
        _write(record)


def _write_counts():
    if os.getpid() == _PID:
        _write({"type": "counts", "counts": {k: n for k, n in _COUNTS.items() if n > 1}})


def _line_text(frame):
    return linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()[:_MAX_TEXT]


def _walk():
    """The frames of the running thread, innermost first, without concdiag's own."""
    frame = sys._getframe(1)
    while frame is not None:
        if not _is_ours(frame.f_code.co_filename):
            yield frame
        frame = frame.f_back


def _passes(filename):
    """A frame of the standard library's pool machinery (it only passes a call through)."""
    return _is_stdlib(filename) and any(p in filename for p in _PASS_THROUGH)


def _creator():
    """(the frame that asked the pool machinery for a pool or task, the first user frame)."""
    immediate = None
    for frame in _walk():
        name = frame.f_code.co_filename
        if _passes(name):
            continue
        immediate = immediate or frame
        if not _is_stdlib(name):
            return immediate, frame
    return immediate, immediate


def _site(frame):
    if frame is None:
        return {"file": None, "line": None, "code": ""}
    name = frame.f_code.co_filename
    name = name if name.startswith("<") else os.path.abspath(name)
    return {"file": name, "line": frame.f_lineno, "code": _line_text(frame)}


def _error_text(exc):
    return _ADDRESS.sub("", f"{type(exc).__name__}: {exc}")[:_MAX_TEXT]


def _task_name(fn):
    inner = getattr(fn, "args", None)
    if getattr(fn, "func", None) is not None and inner:  # ProcessPoolExecutor.map's partial
        fn = inner[0] if callable(inner[0]) else fn.func
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _task_error(exc, site, fn):
    error = _error_text(exc)
    key = f"task:{site['file']}:{site['line']}:{error.split(':', 1)[0]}"
    _note({"type": "task_error", "error": error, "task": _task_name(fn), **site}, key)


# -- what each pool becomes ------------------------------------------------------------------

#: Per written kind: the family it belongs to and the names of its positional parameters.
_KINDS = {
    "thread_pool_executor": ("threads", "max_workers thread_name_prefix initializer initargs"),
    "process_pool_executor": ("processes", "max_workers mp_context initializer initargs"),
    "thread_pool": ("threads", "processes initializer initargs"),
    "process_pool": ("processes", "processes initializer initargs maxtasksperchild context"),
}
_ORIGINALS = {}


def _default_workers(kind):
    cores = os.cpu_count() or 1
    return min(32, cores + 4) if kind == "thread_pool_executor" else cores


def _bind(kind, args, kwargs):
    bound = dict(zip(_KINDS[kind][1].split(), args))
    bound.update(kwargs)
    return bound


def _is_default(name, value):
    """An argument the program left as the default (multiprocessing.Pool() passes context)."""
    if value in (None, "", ()):
        return True
    if name in ("context", "mp_context"):
        import multiprocessing

        return value is multiprocessing.get_context()
    return False


#: What each family keeps of a pool's arguments besides the workers, for executors (True)
#: and multiprocessing pools (False).
_KEPT = {
    ("threads", True): ("thread_name_prefix",),
    ("processes", True): ("mp_context", "max_tasks_per_child"),
    ("interpreters", True): (),
    ("threads", False): (),
    ("processes", False): ("maxtasksperchild", "context"),
}


def _build(kind, family, bound, workers):
    """The pool of ``family`` standing in for a ``kind`` created with ``bound`` arguments."""
    executor = kind.endswith("_executor")
    if family == "interpreters":
        import concurrent.futures

        pool_class = concurrent.futures.InterpreterPoolExecutor
    else:
        name = ("thread" if family == "threads" else "process") + "_pool"
        pool_class = _ORIGINALS[name + ("_executor" if executor else "")]
    keys = ("initializer", "initargs", *_KEPT[(family, executor)])
    kept = {k: bound[k] for k in keys if k in bound}
    dropped = sorted(
        k
        for k, v in bound.items()
        if k not in kept and k not in ("max_workers", "processes") and not _is_default(k, v)
    )
    return (
        pool_class(max_workers=workers, **kept) if executor else pool_class(workers, **kept)
    ), dropped


def _create(kind, args, kwargs):
    original = _ORIGINALS[kind]
    written_family = _KINDS[kind][0]
    bound = _bind(kind, args, kwargs)
    asked = bound.get("max_workers", bound.get("processes"))
    immediate, user = _creator()
    site = _site(user)
    record = {"type": "pool", "kind": kind, "workers": asked, "became": None, "note": "", **site}
    record["default_workers"] = _default_workers(kind)
    if immediate is not None and _is_stdlib(immediate.f_code.co_filename):
        where = os.path.basename(immediate.f_code.co_filename)
        record["note"] = f"created by the standard library ({where}); kept as written"
        _note(record, f"pool:{kind}:{site['file']}:{site['line']}")
        return original(*args, **kwargs)
    name = {"thread_pool_executor": "ThreadPoolExecutor", "process_pool_executor": "Process"}
    called = name.get(kind, "Pool")
    record["compiled"] = bool(site["code"]) and called not in site["code"]
    family = _CONFIG.get("kind", "as_written")
    if family == "as_written":
        family = written_family
    if family == "interpreters" and not kind.endswith("_executor"):
        family = written_family
        record["note"] = "multiprocessing pools have no interpreter kind; kept as written"
    workers = _CONFIG.get("workers") or asked or _default_workers(kind)
    changed = family != written_family or _CONFIG.get("workers") not in (None, asked)
    pool = None
    if changed and os.getpid() == _PID:
        try:
            pool, dropped = _build(kind, family, bound, workers)
            record["became"] = family
            record["workers_used"] = workers
            if dropped:
                record["note"] = "not carried over: " + ", ".join(dropped)
        except Exception as exc:
            record["note"] = f"could not swap: {_error_text(exc)}"
    if pool is None:
        pool = original(*args, **kwargs)
    if family != written_family or _CONFIG.get("watch"):
        _track(pool)
    _note(record, f"pool:{kind}:{site['file']}:{site['line']}")
    return pool


def _track(pool):
    """Note each failed task with the line that submitted it."""
    if hasattr(pool, "submit"):
        submit = pool.submit

        def tracked_submit(fn, /, *args, **kwargs):
            site = _site(_creator()[1])
            future = submit(fn, *args, **kwargs)

            def done(f):
                if not f.cancelled() and f.exception() is not None:
                    _task_error(f.exception(), site, fn)

            future.add_done_callback(done)
            return future

        pool.submit = tracked_submit
        return
    for method in ("map", "starmap", "apply"):
        original = getattr(pool, method)

        def tracked(func, *args, _original=original, **kwargs):
            site = _site(_creator()[1])
            try:
                return _original(func, *args, **kwargs)
            except Exception as exc:
                _task_error(exc, site, func)
                raise

        setattr(pool, method, tracked)


class _SwapMeta(type):
    """``isinstance(x, ThreadPoolExecutor)`` keeps answering for the original class."""

    def __instancecheck__(cls, obj):
        original = cls.__dict__.get("_concdiag_original")
        if original is not None:
            return isinstance(obj, original)
        return type.__instancecheck__(cls, obj)

    def __subclasscheck__(cls, sub):
        original = cls.__dict__.get("_concdiag_original")
        if original is not None:
            return issubclass(sub, original)
        return type.__subclasscheck__(cls, sub)


def _swap_class(kind, original):
    def __new__(cls, *args, **kwargs):
        if cls is not swap:  # a subclass of the pool: its methods expect its own kind
            record = {"type": "pool", "kind": kind, "workers": None, **_site(_creator()[1])}
            record.update(became=None, default_workers=_default_workers(kind))
            record["note"] = f"a subclass ({cls.__name__}) keeps its kind"
            _note(record, f"pool:{kind}:{record['file']}:{record['line']}")
            return original.__new__(cls)
        return _create(kind, args, kwargs)

    swap = _SwapMeta(
        original.__name__,
        (original,),
        {"__new__": __new__, "_concdiag_original": original, "__module__": original.__module__},
    )
    return swap


def _watch_starts():
    """Note bare threads and processes the program starts itself: they cannot be swapped."""
    import multiprocessing.process

    def wrap(owner, what):
        start = owner.start

        def tracked_start(self):
            first = next(_walk(), None)
            if first is not None and not _passes(first.f_code.co_filename):
                immediate, user = _creator()
                name = immediate.f_code.co_filename if immediate is not None else ""
                site = _site(user)
                record = {"type": what, **site}
                if immediate is not None and _is_stdlib(name):
                    record["via"] = os.path.basename(name)
                _note(record, f"{what}:{site['file']}:{site['line']}")
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
        _note({"type": "stdin"}, "stdin")

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


def install(config):
    """Rebind the pool classes as ``config`` asks; called by the bootstrap before the script."""
    global _CONFIG, _PID
    import atexit
    import concurrent.futures
    import concurrent.futures.process
    import concurrent.futures.thread
    import multiprocessing.pool

    _CONFIG = dict(config)
    _PID = os.getpid()
    modules = {
        "thread_pool_executor": (concurrent.futures.thread, "ThreadPoolExecutor"),
        "process_pool_executor": (concurrent.futures.process, "ProcessPoolExecutor"),
        "thread_pool": (multiprocessing.pool, "ThreadPool"),
        "process_pool": (multiprocessing.pool, "Pool"),
    }
    for kind, (module, name) in modules.items():
        original = getattr(module, name)
        _ORIGINALS[kind] = original
        swap = _swap_class(kind, original)
        setattr(module, name, swap)
        if module.__name__.startswith("concurrent.futures."):
            setattr(concurrent.futures, name, swap)
    _watch_starts()
    if _CONFIG.get("watch") and sys.stdin is not None:
        sys.stdin = _StdinWatch(sys.stdin)
    atexit.register(_write_counts)
    interpreters = hasattr(concurrent.futures, "InterpreterPoolExecutor")
    _write({"type": "installed", "interpreters": interpreters, "python": sys.version.split()[0]})
