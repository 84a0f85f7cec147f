"""Lock tracking inside the target: ``Condition``, ``Semaphore`` and ``BoundedSemaphore``.

Used by ``tracker.py`` (standard library only, Python 3.10 to 3.15), which
hands over its lock types and helpers. A Condition's lock is a tracked lock; its waits for a
notify are timed here. A semaphore is tracked as one primitive (its own condition stays
untracked): acquisitions counted, waits for a permit timed exactly.
"""

import sys
import threading
from _thread import get_ident as _ident

_getframe = sys._getframe


def make_classes(t, original):
    """Condition, Semaphore and BoundedSemaphore built on the tracker ``t``."""

    class Condition(original["Condition"]):
        """Times waits for a notify; the lock's acquisitions are timed by the lock."""

        def __init__(self, lock=None):
            if lock is None:
                lock = t.TrackedRLock(t.creation_site(_getframe(1), "Condition"), original["RLock"])
            original["Condition"].__init__(self, lock)
            self._cd_site = getattr(lock, "_site", None) or t.creation_site(
                _getframe(1), "Condition"
            )

        def __enter__(self):
            lock = self._lock
            if type(lock) is t.TrackedLock or type(lock) is t.TrackedRLock:
                # name the caller's line, not this method's, as where the lock was taken
                if lock.acquire(False):
                    if getattr(lock, "_depth", 1) == 1:
                        lock._frame = _getframe(1)
                        lock._lasti = lock._frame.f_lasti
                    return True
                return t._contended(lock, -1, _getframe(1))
            return lock.__enter__()

        def wait(self, timeout=None):
            t0 = t._clock()
            try:
                return original["Condition"].wait(self, timeout)
            finally:
                waited = t._clock() - t0
                with t._stats_lock:
                    self._cd_site.add_notify_wait(waited)

    def semaphore(base, kind):
        class Semaphore(base):
            def __init__(self, value=1):
                if value < 0:
                    raise ValueError("semaphore initial value must be >= 0")
                # the semaphore is tracked as one: its own condition stays untracked
                self._cond = original["Condition"](t._raw_lock())
                self._value = value
                if kind == "BoundedSemaphore":
                    self._initial_value = value
                self._cd_site = t.creation_site(_getframe(1), kind)

            def acquire(self, blocking=True, timeout=None):
                site = self._cd_site
                if base.acquire(self, False):
                    site.n += 1
                    return True
                if not blocking:
                    return False
                frame = _getframe(1)
                waiting_at = t.site_of(frame, frame.f_lasti, live=True)
                t0 = t._clock()
                ok = base.acquire(self, True, timeout)
                thread = threading.current_thread()
                with t._stats_lock:
                    site.add_wait(
                        t._clock() - t0, _ident(), thread.native_id, thread.name, waiting_at
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
