"""Runs inside the target for ``concdiag whatif``: swaps the kind and size of its pools.

Loaded by the bootstrap when ``CONCDIAG_POOL_SWAP`` holds a JSON config (``kind``:
as_written, serial, threads, processes or interpreters; ``workers``; ``report``: where
``watch.py`` appends what it sees; ``watch``: also note reads of stdin and failed tasks
of unswapped pools). Standard library only, Python 3.10 to 3.15, nothing from concdiag.

It rebinds ``concurrent.futures.ThreadPoolExecutor`` / ``ProcessPoolExecutor`` and
``multiprocessing.pool.ThreadPool`` / ``Pool`` (which ``multiprocessing.Pool()`` creates) to
subclasses whose ``__new__`` builds the pool asked for; ``isinstance`` still answers for the
originals. ``serial`` runs an executor's tasks inline, in the submitting thread (a
multiprocessing pool gets one thread: its API has no inline form). Only the launched process
swaps; a pool subclass keeps its kind, and so do pools the standard library makes (asyncio's
default executor).
"""

import concurrent.futures
import os
import sys

from ..common import is_stdlib
from . import watch as _watch

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
    if family == "serial" and executor:
        return _InlineExecutor(bound.get("initializer"), bound.get("initargs", ())), []
    if family == "serial":  # a multiprocessing pool has no inline form: one thread
        family, workers = "threads", 1
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


class _InlineExecutor(concurrent.futures.Executor):
    """An executor that runs each task at once, in the thread that submits it: serial."""

    def __init__(self, initializer=None, initargs=()):
        if initializer is not None:
            initializer(*initargs)

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Every task at once, as Executor.map submits them; an error raised where its result
        is read. No futures: a serial loop should not pay for them."""
        where, done = _watch.where_now(), []
        for args in zip(*iterables):
            try:
                done.append((fn(*args), None))
            except Exception as exc:
                _watch.task_error(exc, where, fn)
                done.append((None, exc))
        return (_raise(exc) if exc is not None else value for value, exc in done)


def _raise(exc):
    raise exc


def _create(kind, args, kwargs):
    original = _ORIGINALS[kind]
    written_family = _KINDS[kind][0]
    bound = _bind(kind, args, kwargs)
    asked = bound.get("max_workers", bound.get("processes"))
    immediate, user = _watch.creator()
    site = _watch.site_record(user)
    record = {"type": "pool", "kind": kind, "workers": asked, "became": None, "note": "", **site}
    record["default_workers"] = _default_workers(kind)
    if immediate is not None and is_stdlib(immediate.f_code.co_filename):
        where = os.path.basename(immediate.f_code.co_filename)
        record["note"] = f"created by the standard library ({where}); kept as written"
        _watch.note(record, f"pool:{kind}:{site['file']}:{site['line']}")
        return original(*args, **kwargs)
    name = {"thread_pool_executor": "ThreadPoolExecutor", "process_pool_executor": "Process"}
    called = name.get(kind, "Pool")
    record["compiled"] = bool(site["code"]) and called not in site["code"]
    family = _watch.CONFIG.get("kind", "as_written")
    if family == "as_written":
        family = written_family
    if family == "interpreters" and not kind.endswith("_executor"):
        family = written_family
        record["note"] = "multiprocessing pools have no interpreter kind; kept as written"
    workers = _watch.CONFIG.get("workers") or asked or _default_workers(kind)
    changed = family != written_family or _watch.CONFIG.get("workers") not in (None, asked)
    pool = None
    if changed and os.getpid() == _watch.PID:
        try:
            pool, dropped = _build(kind, family, bound, workers)
            record["became"] = family
            record["workers_used"] = workers
            if dropped:
                record["note"] = "not carried over: " + ", ".join(dropped)
            if family == "serial" and not kind.endswith("_executor"):
                record["note"] = "one thread stands in for serial (no inline form for this API)"
        except Exception as exc:
            record["note"] = f"could not swap: {_watch.error_text(exc)}"
    if pool is None:
        pool = original(*args, **kwargs)
    if family != written_family or _watch.CONFIG.get("watch"):
        _watch.track(pool)
    _watch.note(record, f"pool:{kind}:{site['file']}:{site['line']}")
    return pool


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
            record = {
                "type": "pool",
                "kind": kind,
                "workers": None,
                **_watch.site_record(_watch.creator()[1]),
            }
            record.update(became=None, default_workers=_default_workers(kind))
            record["note"] = f"a subclass ({cls.__name__}) keeps its kind"
            _watch.note(record, f"pool:{kind}:{record['file']}:{record['line']}")
            return original.__new__(cls)
        return _create(kind, args, kwargs)

    swap = _SwapMeta(
        original.__name__,
        (original,),
        {"__new__": __new__, "_concdiag_original": original, "__module__": original.__module__},
    )
    return swap


def install(config):
    """Rebind the pool classes as ``config`` asks; called by the bootstrap before the script."""
    import concurrent.futures.process
    import concurrent.futures.thread
    import multiprocessing.pool

    _watch.start(config)
    try:  # 3.14+: InterpreterPoolExecutor subclasses ThreadPoolExecutor; bind it first
        import concurrent.futures.interpreter
    except ImportError:
        pass
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
    interpreters = hasattr(concurrent.futures, "InterpreterPoolExecutor")
    _watch.write(
        {"type": "installed", "interpreters": interpreters, "python": sys.version.split()[0]}
    )
