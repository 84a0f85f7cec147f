"""Runs inside the target: what each thread pool's tasks would cost to ship to a process.

A program on threads (or a loop) passes each task its arguments by reference. A process pool
would pickle them in the parent, pipe them, and unpickle them in a worker, and the result
back the same way; for large arguments that costs more than the processes gain. Nothing of
that shows in a run on threads, so this module measures it on the tasks themselves.

Installed by the bootstrap (standard library only, Python 3.10 to 3.15). It wraps
``concurrent.futures.ThreadPoolExecutor.submit`` (which ``map`` calls) and the task methods
of ``multiprocessing.pool.ThreadPool``, when the program imports them. Every task is
counted; the first `SAMPLED_TASKS` tasks of each pool have their arguments and result
*estimated*: containers larger than
`SAMPLE` items are represented by `SAMPLE` of their items, pickled and unpickled together,
and scaled by their length, so a 200,000-row table costs a few hundred microseconds to
estimate, not the 0.15 s pickling it would. Timings are the thread's own CPU clock, so a
thread that loses the GIL mid-measurement is not charged for the wait.

Each estimate goes to concdiag at once (``task_shipping``); the task counts go at exit
(``task_counts``). Only the launched process records: forked children inherit this module
but stay quiet. What the estimates cost the program is sent too (``cost_s``), and sampling
stops once that passes `MAX_COST_S`.
"""

import atexit
import itertools
import os
import sys
import threading
import time

from . import watch

#: Tasks of each pool whose arguments and result are estimated: enough for a median that one
#: odd task does not move, few enough that the program does not notice.
SAMPLED_TASKS = 8
#: Items of a large container pickled to stand for all of it: a stated choice, ~100 µs of
#: pickling for small tuples, long enough that the thread CPU clock (1 µs a read on the bench
#: machine) does not dominate.
SAMPLE = 64
#: Bytes of a long str/bytes pickled to stand for all of it (then scaled by its length).
FLAT_SAMPLE = 1 << 20
#: Nesting followed before a value is pickled whole: a table of rows is two levels.
MAX_DEPTH = 4
#: Estimating stops once it has cost the program this much CPU: a stated budget.
MAX_COST_S = 0.2
#: A value pickled whole is stopped at this size; past it the estimate is a lower bound. A
#: stated bound; measured at load 0.4: 2.6-4.6 ms to pickle 4 MiB of bytes, 18-21 ms to reach
#: it on a list of 3 million ints.
MAX_PICKLE_BYTES = 4 << 20

_SEND = None
_PID = -1
_LOCK = threading.Lock()
_POOLS = itertools.count(1)
_COUNTS = {}  # pool number -> tasks submitted
_SAMPLED = {}  # pool number -> tasks estimated
_COST = [0.0]
_SCALARS = (int, float, complex, bool, type(None))


def install(send):
    """Wrap the thread pools' task methods when the program imports them (at once if it
    already has); ``send`` carries one JSON-able dict to concdiag. Nothing is imported here:
    a program that never uses a pool pays for none of its modules."""
    global _SEND, _PID
    _SEND, _PID = send, os.getpid()
    patches = {
        "concurrent.futures.thread": _patch_executor,
        "multiprocessing.pool": _patch_thread_pool,
    }
    waiting = {}
    for name, patch in patches.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
        else:
            waiting[name] = patch
    if waiting:
        sys.meta_path.insert(0, _PatchOnImport(waiting))
    atexit.register(_send_counts)


class _PatchOnImport:
    """An import finder that finds nothing itself: when one of its modules is found by the
    finders after it, the module is patched as soon as it has run."""

    def __init__(self, patches):
        self.patches = patches

    def find_spec(self, name, path=None, target=None):
        patch = self.patches.pop(name, None)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                _patch_after_loading(spec.loader, patch)
                return spec
        return None


def _patch_after_loading(loader, patch):
    run = loader.exec_module

    def exec_module(module):
        run(module)
        patch(module)

    loader.exec_module = exec_module  # this module's own loader (one per spec)


def _patch_executor(thread_module):
    executor = thread_module.ThreadPoolExecutor
    original_submit = executor.submit

    def tracked_submit(self, fn, /, *args, **kwargs):
        number = _count(self)
        future = original_submit(self, fn, *args, **kwargs)
        if number:
            _estimate_task(number, watch.where_now(), fn, args, kwargs, future)
        return future

    executor.submit = tracked_submit


def _patch_thread_pool(pool_module):
    pool = pool_module.ThreadPool
    for name in ("apply_async", "_map_async", "imap", "imap_unordered"):
        setattr(pool, name, _wrap_pool_method(getattr(pool, name)))


def _count(pool):
    """Count one task of ``pool``; its number when this task is to be estimated, else 0."""
    if os.getpid() != _PID:
        return 0
    number = getattr(pool, "_concdiag_pool", 0)
    if not number:
        number = next(_POOLS)
        try:
            pool._concdiag_pool = number
        except AttributeError:
            return 0
    _COUNTS[number] = _COUNTS.get(number, 0) + 1
    if _SAMPLED.get(number, 0) >= SAMPLED_TASKS or _COST[0] > MAX_COST_S:
        return 0
    with _LOCK:
        taken = _SAMPLED.get(number, 0)
        if taken >= SAMPLED_TASKS:
            return 0
        _SAMPLED[number] = taken + 1
    return number


def _wrap_pool_method(original):
    """A multiprocessing ThreadPool method whose task function is counted and estimated."""

    def tracked(self, func, *args, **kwargs):
        return original(self, _tracked_task(self, func, watch.where_now()), *args, **kwargs)

    return tracked


def _tracked_task(pool, func, where):
    """``func`` as a ThreadPool runs it per item: counted, and estimated for the first ones."""

    def tracked(*args, **kwargs):
        number = _count(pool)
        if not number:
            return func(*args, **kwargs)
        _send_estimate(number, "arguments", (func, args, kwargs), where)
        result = func(*args, **kwargs)
        _send_estimate(number, "result", result)
        return result

    return tracked


def _estimate_task(number, where, fn, args, kwargs, future):
    _send_estimate(number, "arguments", (fn, args, kwargs), where)

    def done(f):
        if not f.cancelled() and f.exception() is None:
            _send_estimate(number, "result", f.result())

    future.add_done_callback(done)


def _send_estimate(number, part, value, where=None):
    start = time.thread_time()
    record = {"type": "task_shipping", "pool": number, "part": part}
    try:
        if part == "arguments":
            fn, args, kwargs = value
            size, dump_s, load_s = _added(_function(fn), estimate((args, kwargs)))
        else:
            size, dump_s, load_s = estimate(value)
        record.update(bytes=int(size), pickle_s=dump_s, unpickle_s=load_s)
    except Exception as exc:  # what pickling refuses is itself a finding
        record["error"] = watch.error_text(exc)
    if where is not None:
        record.update(watch.site_record(where=where))
    spent = time.thread_time() - start
    _COST[0] += spent
    record["cost_s"] = spent
    if _SEND is not None:
        _SEND(record)


def _function(fn):
    """A task function pickles by reference, a bound method with its whole object."""
    owner = getattr(fn, "__self__", None)
    if owner is not None and not isinstance(owner, type) and type(owner).__name__ != "module":
        return _added(estimate(owner), measure(getattr(fn, "__name__", "")))
    return measure(fn)


def _send_counts():
    if os.getpid() == _PID and _SEND is not None and _COUNTS:
        _SEND({"type": "task_counts", "counts": {str(k): n for k, n in _COUNTS.items()}})


def estimate(value, depth=0):
    """(bytes, seconds to pickle, seconds to unpickle) for ``value``, from a sample of it."""
    kind = type(value)
    if kind in (str, bytes, bytearray) and len(value) > FLAT_SAMPLE:
        return _scaled(measure(value[:FLAT_SAMPLE]), len(value) / FLAT_SAMPLE)
    if kind in (list, tuple, dict, set, frozenset) and depth < MAX_DEPTH:
        items = _sample(value)
        scale = len(value) / len(items) if items else 1.0
        return _scaled(_estimate_many(items, depth + 1), scale)
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int) and nbytes > FLAT_SAMPLE:  # an array: its buffer is copied
        return _scaled(measure(bytes(FLAT_SAMPLE)), nbytes / FLAT_SAMPLE)
    state = getattr(value, "__dict__", None)
    if type(state) is dict and state and depth < MAX_DEPTH and not isinstance(value, type):
        own = measure(kind.__new__(kind)) if _plain_class(kind) else (0, 0.0, 0.0)
        inner = estimate(state, depth + 1)
        return own[0] + inner[0], own[1] + inner[1], own[2] + inner[2]
    return measure(value)


def _plain_class(kind):
    """A class whose empty instance can be made and pickled to price the instance itself."""
    return kind.__new__ is object.__new__ and getattr(kind, "__reduce_ex__", None) is getattr(
        object, "__reduce_ex__", None
    )


def _sample(value):
    """At most SAMPLE items standing for ``value``'s: evenly spread for sequences."""
    n = len(value)
    if isinstance(value, dict):
        return list(itertools.islice(value.items(), SAMPLE))
    if isinstance(value, (set, frozenset)):
        return list(itertools.islice(value, SAMPLE))
    if n <= SAMPLE:
        return list(value)
    return [value[i * n // SAMPLE] for i in range(SAMPLE)]


def _estimate_many(items, depth):
    """The items' estimates: small flat ones pickled together, as a container holds them."""
    flat = [item for item in items if _small_flat(item)]
    total = measure(flat) if flat else (0, 0.0, 0.0)
    for item in items:
        if not _small_flat(item):
            total = _added(total, estimate(item, depth))
    return total


def _small_flat(value):
    """A value pickled in one step: a scalar, a short string, a short tuple of those."""
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, (str, bytes)):
        return len(value) <= 4096
    if type(value) is tuple and len(value) <= 16:
        return all(
            isinstance(v, _SCALARS) or (isinstance(v, (str, bytes)) and len(v) <= 4096)
            for v in value
        )
    return False


class _Full(Exception):
    """Raised by `_CappedBuffer` once a pickle has passed `MAX_PICKLE_BYTES`."""


class _CappedBuffer:
    """A pickle's output, refused past `MAX_PICKLE_BYTES`: what the sample could not break up
    (an object pickled whole) must not cost the program a whole copy of a huge value."""

    def __init__(self):
        self.parts = []
        self.size = 0

    def write(self, data):
        self.size += len(data)
        if self.size > MAX_PICKLE_BYTES:
            raise _Full
        self.parts.append(bytes(data))
        return len(data)


def measure(value):
    """(bytes, pickle seconds, unpickle seconds) of pickling ``value`` whole, on the thread's
    CPU clock (a thread preempted for the GIL is not charged for the wait). A pickle larger
    than `MAX_PICKLE_BYTES` is stopped there: its figures are those of its first bytes, a
    lower bound, with unpickling taken to cost what pickling did."""
    import pickle  # here: a program that never submits a task never pays for the import

    clock = time.thread_time
    buffer = _CappedBuffer()
    t0 = clock()
    try:
        pickle.Pickler(buffer).dump(value)
    except _Full:
        spent = clock() - t0
        return MAX_PICKLE_BYTES, spent, spent
    t1 = clock()
    pickle.loads(b"".join(buffer.parts))
    t2 = clock()
    return buffer.size, t1 - t0, t2 - t1


def _scaled(figures, factor):
    return figures[0] * factor, figures[1] * factor, figures[2] * factor


def _added(a, b):
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]
