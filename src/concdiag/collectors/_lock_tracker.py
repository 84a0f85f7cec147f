"""Lock tracking inside the target: which lock, who held it, who waited, and deadlocks.

The bootstrap loads this file by path before the user's script runs, so like the bootstrap it
uses only the standard library and runs under any Python from 3.10 to 3.13.

``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and ``BoundedSemaphore`` (and so
``queue.Queue``, ``Event`` and ``Barrier``, built on them) are replaced by thin wrappers, and
``asyncio.Lock`` by a subclass when asyncio is imported. Locks created before the script
starts (the interpreter's own) stay as they were.

Cost: an uncontended acquisition takes a fast path that records the owner, the acquiring
frame and a count; one in ``sample_every`` of them (per creation site) is also timed, and the
timed holds are scaled by that rate. A contended acquisition is always timed, exactly: its
wait, the waiting thread and line, and the line where the holder acquired the lock.

Deadlocks: a thread that waits without a timeout waits in slices; between slices it follows
the wait-for graph (thread waits for lock, lock is held by thread...). A cycle that leads back
to it and has existed for ``deadlock_after`` seconds is a deadlock: the tracker writes its
tables with the cycle and every thread's stack, then tells concdiag on the event pipe, once.
concdiag then ends the target with SIGINT; once the main thread has ended (the interpreter is
shutting down), the deadlocked threads raise KeyboardInterrupt at their next slice, so the
interpreter can exit instead of waiting for them for ever.
A lock released by a thread other than its owner is a signal, not a mutex: it is left out of
the graph.

Statistics are per creation site (file and line): the locks one line creates are one entry.
Tables are written (JSON, to ``out``) at exit, on SIGTERM and when a deadlock is found, by the
process that loaded the tracker only (a forked child is not tracked).
"""

import os
import sys
import threading
import time
from _thread import allocate_lock as _raw_lock
from _thread import get_ident as _ident

_clock = time.monotonic
_getframe = sys._getframe
_here = os.path.dirname(os.path.abspath(__file__))


def _load_sibling(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_concdiag_" + name, os.path.join(_here, name + ".py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_sites = _load_sibling("_lock_sites")
Site = _sites.Site
site_of = _sites.site_of
creation_site = _sites.creation_site

#: One uncontended acquisition in EVERY is timed (a power of two: the test is a mask).
EVERY = 64
_MASK = EVERY - 1
#: Deadlock detection: a wait without timeout is taken in slices of this length at most.
SLICE_S = 0.25
_CONFIG = {
    "deadlock_after": None,
    "slice": SLICE_S,
    "send": None,
    "out": None,
    "pid": 0,
    "stuck": frozenset(),
}
#: thread ident -> (lock wrapper, wait start, waiting site): waits in progress.
WAITING = {}
_stats_lock = _raw_lock()
_report_lock = _raw_lock()


def _flush_hold(lock, now):
    """A timed hold ends: charge it to the site (scaled by its weight), and charge the waits
    it caused to the line where it was taken (``_t`` is then when the first waiter came)."""
    started = lock._t
    weight = lock._tw
    lock._t = 0.0
    where = site_of(lock._frame, lock._lasti)
    waits = [now - max(started, e[1]) for e in list(WAITING.values()) if e[0] is lock]
    with _stats_lock:
        site = lock._site
        if weight:
            site.add_hold(now - started, weight, where)
        if waits:
            site.add_caused(where, len(waits), sum(waits))


def _contended(lock, blocking_timeout, frame):
    """The slow path: the lock is held; wait for it, timed, with the deadlock check.

    The holder charges the waits to where it took the lock when it releases it: a waiter
    makes sure the hold is timed (``_t`` from its arrival, weight 0: not a hold sample).
    """
    me = _ident()
    waiting_at = site_of(frame, frame.f_lasti, live=True)
    t0 = _clock()
    if not lock._t:
        lock._tw = 0
        lock._t = t0
    untimed = blocking_timeout < 0
    WAITING[me] = (lock, t0, waiting_at, untimed)
    ok = False
    try:
        after = _CONFIG["deadlock_after"]
        if untimed and after is not None:
            slice_s = _CONFIG["slice"]
            while not ok:
                ok = lock._lock.acquire(True, slice_s)
                if not ok:
                    if me in _CONFIG["stuck"] and not threading.main_thread().is_alive():
                        # the interpreter is shutting down (concdiag ended the deadlocked
                        # target): leave, or shutdown would wait for this thread for ever
                        raise KeyboardInterrupt
                    _check_deadlock(me)
        else:
            ok = lock._lock.acquire(True, blocking_timeout)
        t1 = _clock()
        if ok:
            lock._take(me, frame, t1)  # before the bookkeeping: the next waiter sees the owner
    finally:
        del WAITING[me]
        t1 = _clock() if not ok else t1
        thread = threading.current_thread()
        with _stats_lock:
            lock._site.add_wait(t1 - t0, me, thread.native_id, thread.name, waiting_at)
    return ok


class TrackedLock:
    """``threading.Lock``: the C lock, its owner, acquiring frame and sampled hold timing."""

    __slots__ = ("_frame", "_handoff", "_lasti", "_lock", "_owner", "_site", "_t", "_tw")

    def __init__(self, site):
        self._lock = _raw_lock()
        self._site = site
        self._owner = None
        self._frame = None
        self._lasti = 0
        self._t = 0.0
        self._tw = 0
        self._handoff = False

    def _take(self, me, frame, now):
        """Owner bookkeeping after a contended acquisition (its hold is always timed)."""
        self._owner = me
        self._frame = frame
        self._lasti = frame.f_lasti
        self._t = now
        self._tw = 1
        self._site.n += 1

    def __enter__(self):
        if self._lock.acquire(False):
            self._owner = _ident()
            f = self._frame = _getframe(1)
            self._lasti = f.f_lasti
            s = self._site
            n = s.n = s.n + 1
            if not n & _MASK:
                self._t = _clock()
                self._tw = EVERY
            return True
        return _contended(self, -1, _getframe(1))

    def acquire(self, blocking=True, timeout=-1):
        if timeout != -1 and (not blocking or timeout < 0):
            return self._lock.acquire(blocking, timeout)  # the C lock's own ValueError
        if self._lock.acquire(False):
            self._owner = _ident()
            f = self._frame = _getframe(1)
            self._lasti = f.f_lasti
            s = self._site
            n = s.n = s.n + 1
            if not n & _MASK:
                self._t = _clock()
                self._tw = EVERY
            return True
        if not blocking:
            return False
        return _contended(self, timeout, _getframe(1))

    def __exit__(self, *exc):
        # a with block releases in the thread that acquired: no owner check needed
        if self._t:
            _flush_hold(self, _clock())
        self._owner = None
        self._frame = None
        self._lock.release()

    def release(self):
        if self._owner != _ident():
            self._handoff = True  # released by another thread: a signal, not a mutex
        if self._t:
            _flush_hold(self, _clock())
        self._owner = None
        self._frame = None
        self._lock.release()

    def locked(self):
        return self._lock.locked()

    def _at_fork_reinit(self):
        self._lock._at_fork_reinit()
        self._owner = None
        self._frame = None
        self._t = 0.0

    def __repr__(self):
        return repr(self._lock)


class TrackedRLock(TrackedLock):
    """``threading.RLock``: the same, counting only the outermost acquisition."""

    __slots__ = ("_depth",)

    def __init__(self, site, factory):
        TrackedLock.__init__(self, site)
        self._lock = factory()
        self._depth = 0

    def _take(self, me, frame, now):
        TrackedLock._take(self, me, frame, now)
        self._depth = 1

    def __enter__(self):
        if self._lock.acquire(False):
            d = self._depth = self._depth + 1
            if d == 1:
                self._owner = _ident()
                f = self._frame = _getframe(1)
                self._lasti = f.f_lasti
                s = self._site
                n = s.n = s.n + 1
                if not n & _MASK:
                    self._t = _clock()
                    self._tw = EVERY
            return True
        return _contended(self, -1, _getframe(1))

    def acquire(self, blocking=True, timeout=-1):
        if timeout != -1 and (not blocking or timeout < 0):
            return self._lock.acquire(blocking, timeout)
        if self._lock.acquire(False):
            d = self._depth = self._depth + 1
            if d == 1:
                self._owner = _ident()
                f = self._frame = _getframe(1)
                self._lasti = f.f_lasti
                s = self._site
                n = s.n = s.n + 1
                if not n & _MASK:
                    self._t = _clock()
                    self._tw = EVERY
            return True
        if not blocking:
            return False
        return _contended(self, timeout, _getframe(1))

    def release(self):
        if self._owner != _ident():
            self._lock.release()  # raises as the C RLock does: not owned by this thread
            return
        d = self._depth = self._depth - 1
        if not d:
            if self._t:
                _flush_hold(self, _clock())
            self._owner = None
            self._frame = None
        self._lock.release()

    def __exit__(self, *exc):
        self.release()

    def _is_owned(self):
        return self._lock._is_owned()

    def _release_save(self):
        """Condition.wait gives the lock up whole; the hold ends here."""
        if self._t:
            _flush_hold(self, _clock())
        depth, self._depth = self._depth, 0
        self._owner = None
        self._frame = None
        return (self._lock._release_save(), depth)

    def _acquire_restore(self, state):
        """After Condition.wait: take the lock back, timed as a wait if another holds it."""
        inner, depth = state
        holder = self._owner
        frame = _getframe(1)
        t0 = _clock()
        self._lock._acquire_restore(inner)
        t1 = _clock()
        me = _ident()
        if holder is not None and holder != me:
            thread = threading.current_thread()
            waiting_at = site_of(frame, frame.f_lasti, live=True)
            with _stats_lock:
                self._site.add_wait(t1 - t0, me, thread.native_id, thread.name, waiting_at)
        self._owner = me
        self._frame = frame
        self._lasti = frame.f_lasti
        self._depth = depth

    def _recursion_count(self):
        return self._depth if self._owner == _ident() else 0


def _check_deadlock(me):
    """Follow the wait-for graph from this waiting thread; report a lasting cycle through it."""
    after = _CONFIG["deadlock_after"]
    edges = []
    thread = me
    while True:
        entry = WAITING.get(thread)
        if entry is None or not entry[3]:
            return
        lock = entry[0]
        owner = lock._owner
        if owner is None or lock._handoff:
            return
        edges.append((thread, entry, owner))
        if owner == me:
            break
        if len(edges) > len(WAITING):
            return  # a cycle that does not pass through this thread: its members report it
        thread = owner
    formed = max(entry[1] for _, entry, _ in edges)
    if _clock() - formed < after:
        return
    if not _report_lock.acquire(False):
        return
    _CONFIG["stuck"] = frozenset(thread for thread, _, _ in edges)
    _sites.report_deadlock(edges, formed, after, _CONFIG, save)


# -- the other primitives ---------------------------------------------------------------------


def _make_factories(original_rlock):
    def Lock():
        return TrackedLock(creation_site(_getframe(1), "Lock"))

    def RLock(*args, **kwargs):
        return TrackedRLock(creation_site(_getframe(1), "RLock"), original_rlock)

    return Lock, RLock


def _make_classes(original):
    class Condition(original["Condition"]):
        """Times waits for a notify; the lock's acquisitions are timed by the lock."""

        def __init__(self, lock=None):
            if lock is None:
                lock = TrackedRLock(creation_site(_getframe(1), "Condition"), original["RLock"])
            original["Condition"].__init__(self, lock)
            self._cd_site = getattr(lock, "_site", None) or creation_site(_getframe(1), "Condition")

        def __enter__(self):
            lock = self._lock
            if type(lock) is TrackedLock or type(lock) is TrackedRLock:
                # name the caller's line, not this method's, as where the lock was taken
                if lock.acquire(False):
                    if getattr(lock, "_depth", 1) == 1:
                        lock._frame = _getframe(1)
                        lock._lasti = lock._frame.f_lasti
                    return True
                return _contended(lock, -1, _getframe(1))
            return lock.__enter__()

        def wait(self, timeout=None):
            t0 = _clock()
            try:
                return original["Condition"].wait(self, timeout)
            finally:
                waited = _clock() - t0
                with _stats_lock:
                    self._cd_site.add_notify_wait(waited)

    def semaphore(base, kind):
        class Semaphore(base):
            def __init__(self, value=1):
                if value < 0:
                    raise ValueError("semaphore initial value must be >= 0")
                # the semaphore is tracked as one: its own condition stays untracked
                self._cond = original["Condition"](_raw_lock())
                self._value = value
                if kind == "BoundedSemaphore":
                    self._initial_value = value
                self._cd_site = creation_site(_getframe(1), kind)

            def acquire(self, blocking=True, timeout=None):
                site = self._cd_site
                if base.acquire(self, False):
                    site.n += 1
                    return True
                if not blocking:
                    return False
                frame = _getframe(1)
                waiting_at = site_of(frame, frame.f_lasti, live=True)
                t0 = _clock()
                ok = base.acquire(self, True, timeout)
                thread = threading.current_thread()
                with _stats_lock:
                    site.add_wait(
                        _clock() - t0, _ident(), thread.native_id, thread.name, waiting_at
                    )
                    if ok:
                        site.n += 1
                return ok

            __enter__ = acquire

        Semaphore.__name__ = Semaphore.__qualname__ = kind
        return Semaphore

    return (
        Condition,
        semaphore(original["Semaphore"], "Semaphore"),
        semaphore(original["BoundedSemaphore"], "BoundedSemaphore"),
    )


def _install_asyncio():
    """Patch asyncio.Lock when asyncio.locks is imported (now, if it already is)."""
    asyncio_locks = _load_sibling("_lock_asyncio")
    asyncio_locks.install(creation_site, site_of, _stats_lock, EVERY)


# -- tables -----------------------------------------------------------------------------------


def save(deadlock=None):
    """Write the tables (atomically); only in the process that installed the tracker."""
    out = _CONFIG["out"]
    if not out or os.getpid() != _CONFIG["pid"]:
        return
    if deadlock is not None:
        _CONFIG["deadlock"] = deadlock  # kept for the writes that follow (at exit)
    now = _clock()
    with _stats_lock:
        waiting = [
            (ident, entry[0]._site, now - entry[1], entry[2])
            for ident, entry in list(WAITING.items())
        ]
        data = _sites.tables(_CONFIG, waiting, _CONFIG.get("deadlock"), now)
    _sites.write_atomic(out, data)


def _chain_sigterm():
    """On SIGTERM write the tables, then do what SIGTERM would have done."""
    import signal

    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return

    def on_sigterm(signum, frame):
        save()
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    if previous is signal.SIG_IGN:
        return
    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        pass


def install(config, send):
    """Replace the lock types before the script runs. ``config``: out, deadlock_after, every."""
    global EVERY, _MASK
    every = int(config.get("every", EVERY))
    if every > 0 and every & (every - 1) == 0:
        EVERY, _MASK = every, every - 1
    after = config.get("deadlock_after")
    _CONFIG.update(
        out=config["out"],
        pid=os.getpid(),
        send=send,
        every=EVERY,
        t0=_clock(),
        deadlock_after=None if after is None else float(after),
        stuck=frozenset(),
        slice=min(SLICE_S, max(0.01, float(after or SLICE_S) / 4)),
    )
    original = {
        name: getattr(threading, name)
        for name in ("Lock", "RLock", "Condition", "Semaphore", "BoundedSemaphore")
    }
    threading.Lock, threading.RLock = _make_factories(original["RLock"])
    threading.Condition, threading.Semaphore, threading.BoundedSemaphore = _make_classes(original)
    _install_asyncio()
    import atexit

    atexit.register(save)
    _chain_sigterm()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=WAITING.clear)
