"""Lock tracking inside the target: which lock, who held it, who waited, and deadlocks.

Loaded by the bootstrap before the user's script runs: standard library only, any
Python from 3.10 to 3.15. ``threading.Lock``, ``RLock``, ``Condition``, ``Semaphore`` and
``BoundedSemaphore`` (so ``queue.Queue``, ``Event`` and ``Barrier`` too) become thin wrappers,
``asyncio.Lock`` a subclass; locks made before the script starts stay as they were.

Cost: an uncontended acquisition takes a fast path that records the owner, the acquiring
frame and a count; a site's first ``EVERY`` acquisitions are timed, and one in ``EVERY``
after them, its hold scaled by that rate (a lock taken a few dozen times, once per task, has
its holds measured whole: a serial run never contends it, and its holds are what would
serialise threads). A
contended acquisition is always timed, exactly: its wait, the waiting thread and line; the
holder charges the waits it caused to the line where it took the lock when it releases it.

Deadlocks: a thread that waits without a timeout waits in slices and between slices follows
the wait-for graph (``deadlock.py``). A cycle back to it that has lasted
``deadlock_after`` seconds is reported once: the tables are written with the cycle and the
stacks, and concdiag is told on the event pipe. concdiag then ends the target with SIGINT;
once the main thread has ended, the deadlocked threads raise KeyboardInterrupt at their next
slice, so the interpreter can exit instead of waiting for them for ever.

Statistics are per creation site (file and line): the locks one line creates are one entry.
Tables are written (JSON, to ``out``) at exit, on SIGTERM and when a deadlock is found, by the
process that loaded the tracker only (a forked child is not tracked).
"""

import os
import sys
import threading
import time
import types
from _thread import allocate_lock as _raw_lock
from _thread import get_ident as _ident

from ..common import chain_sigterm
from . import deadlock as _deadlock
from . import sites as _sites

_clock = time.monotonic
_getframe = sys._getframe

Site = _sites.Site
site_of = _sites.site_of
creation_site = _sites.creation_site

#: A site's first EVERY uncontended acquisitions are timed, then one in EVERY (a power of
#: two: the test is a mask).
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
    lock._released = now  # a waiter granted the lock now knows when its wait ended
    try:
        where = site_of(lock._frame, lock._lasti)
        waits = [now - max(started, e[1]) for e in list(WAITING.values()) if e[0] is lock]
        with _stats_lock:
            site = lock._site
            site.add_hold(now - started, weight, where)
            if waits:
                site.add_caused(where, len(waits), sum(waits))
    except Exception:  # never into the user's thread
        pass


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
        # The wait for the lock ended when its holder handed it over; from then until now the
        # thread waited for the GIL and a CPU (the sampler's gil_wait or runnable time).
        granted = lock._released if ok and t0 < lock._released <= t1 else t1
        thread = threading.current_thread()
        try:
            with _stats_lock:
                site = lock._site
                site.add_wait(granted - t0, me, thread.native_id, thread.name, waiting_at)
                site.wake_s += t1 - granted
        except Exception:  # never into the user's thread
            pass
    return ok


class TrackedLock:
    """``threading.Lock``: the C lock, its owner, acquiring frame and sampled hold timing."""

    __slots__ = (
        "_frame",
        "_handoff",
        "_lasti",
        "_lock",
        "_owner",
        "_released",
        "_site",
        "_t",
        "_tw",
    )

    def __init__(self, site):
        self._lock = _raw_lock()
        self._site = site
        self._owner = None
        self._frame = None
        self._lasti = 0
        self._t = 0.0
        self._tw = 0
        self._released = 0.0
        self._handoff = False

    def _take(self, me, frame, now):
        """Owner bookkeeping after a contended acquisition (its hold is always timed)."""
        self._owner = me
        self._frame = frame
        self._lasti = frame.f_lasti
        self._t = now
        self._tw = 1
        self._site.n += 1

    # The fast path is written out in __enter__, acquire and TrackedRLock.acquire: a shared
    # helper would add a Python call to every acquisition, its main cost (performance.md).
    def __enter__(self):
        if self._lock.acquire(False):
            self._owner = _ident()
            f = self._frame = _getframe(1)
            self._lasti = f.f_lasti
            s = self._site
            n = s.n = s.n + 1
            if n <= EVERY or not n & _MASK:
                self._t = _clock()
                self._tw = 1 if n <= EVERY else EVERY
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
            if n <= EVERY or not n & _MASK:
                self._t = _clock()
                self._tw = 1 if n <= EVERY else EVERY
            return True
        if not blocking:
            return False
        return _contended(self, timeout, _getframe(1))

    def __exit__(self, exc_type, exc, tb):
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

    def _is_owned(self):
        # what Condition asks before notify(); its own test would acquire and release
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
                if n <= EVERY or not n & _MASK:
                    self._t = _clock()
                    self._tw = 1 if n <= EVERY else EVERY
            return True
        if not blocking:
            return False
        return _contended(self, timeout, _getframe(1))

    __enter__ = acquire  # called with no arguments: the same as acquire()

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

    def __exit__(self, exc_type, exc, tb):
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
    """Report a lasting wait-for cycle through this thread (``deadlock.check``)."""
    _deadlock.check(me, WAITING, _CONFIG, _report_lock, save)


# -- the other primitives ---------------------------------------------------------------------


def _make_factories(original_rlock):
    def Lock():
        return TrackedLock(creation_site(_getframe(1), "Lock"))

    def RLock(*args, **kwargs):
        return TrackedRLock(creation_site(_getframe(1), "RLock"), original_rlock)

    return Lock, RLock


def _install_asyncio():
    """Patch asyncio.Lock when asyncio.locks is imported (now, if it already is)."""
    from . import async_lock as asyncio_locks

    asyncio_locks.install(creation_site, site_of, _stats_lock, EVERY)


# -- tables -----------------------------------------------------------------------------------


def save(deadlock=None):
    """Write the tables (``sites.save``); only in the process that installed the tracker."""
    _sites.save(_CONFIG, WAITING, _stats_lock, deadlock)


def install(config, send):
    """Replace the lock types before the script runs; a failure is reported, never raised."""
    try:
        _install(config, send)
    except Exception as exc:
        send({"type": "locks_failed", "detail": f"{type(exc).__name__}: {exc}"})


def _install(config, send):
    """``config``: out, deadlock_after, every (one uncontended acquisition timed in every)."""
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
    tracking = types.SimpleNamespace(**globals())  # what classes.py builds on
    from .classes import make_classes

    classes = make_classes(tracking, original)
    threading.Condition, threading.Semaphore, threading.BoundedSemaphore = classes
    _install_asyncio()
    import atexit

    atexit.register(save)
    chain_sigterm(save)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=WAITING.clear)
