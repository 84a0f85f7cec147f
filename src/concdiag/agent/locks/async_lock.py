"""Lock tracking inside the target: ``asyncio.Lock``, patched when ``asyncio.locks`` loads.

Used by ``tracker.py`` (standard library only, Python 3.10 to 3.15). A task
waiting for an ``asyncio.Lock`` does not block its thread (the sampler sees the event loop
waiting), so only this tracker sees it: the waiters are tasks, named by ``Task.get_name()``.
asyncio is not imported here: a finder on ``sys.meta_path`` patches the module when the
program imports it, before ``asyncio`` copies ``Lock`` into its namespace.
"""

import sys
import time

_clock = time.monotonic
_getframe = sys._getframe


def _tracked_lock_class(base, tracking):
    creation_site, site_of, stats_lock, every = tracking

    class Lock(base):
        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            self._cd_site = creation_site(_getframe(1), "asyncio.Lock")
            self._cd_frame = None
            self._cd_t = 0.0
            self._cd_weight = 0

        async def acquire(self):
            site = self._cd_site
            frame = _getframe(1)
            if not self.locked():
                await base.acquire(self)
                n = site.n = site.n + 1
                if not n % every:
                    self._cd_t, self._cd_weight = _clock(), every
                self._cd_frame, self._cd_lasti = frame, frame.f_lasti
                return True
            holder_at = site_of(self._cd_frame, self._cd_lasti) if self._cd_frame else None
            waiting_at = site_of(frame, frame.f_lasti, live=True)
            task = _current_task()
            t0 = _clock()
            try:
                await base.acquire(self)
            finally:
                t1 = _clock()
                name = task.get_name() if task is not None else ""
                with stats_lock:
                    site.add_wait(t1 - t0, id(task), None, name, waiting_at)
                    if holder_at is not None:  # one task runs at a time: the holder has run
                        site.add_caused(holder_at, 1, t1 - t0)
            site.n += 1
            self._cd_t, self._cd_weight = t1, 1
            self._cd_frame, self._cd_lasti = frame, frame.f_lasti
            return True

        def release(self):
            if self._cd_t and self.locked():
                held = _clock() - self._cd_t
                where = site_of(self._cd_frame, self._cd_lasti)
                self._cd_t = 0.0
                with stats_lock:
                    self._cd_site.add_hold(held, self._cd_weight, where)
            self._cd_frame = None
            base.release(self)

    Lock.__qualname__ = "Lock"
    Lock.__module__ = base.__module__
    return Lock


def _current_task():
    try:
        import asyncio

        return asyncio.current_task()
    except RuntimeError:
        return None


def _patch(module, tracking):
    if getattr(module.Lock, "_cd_tracked", False):
        return
    module.Lock = _tracked_lock_class(module.Lock, tracking)
    module.Lock._cd_tracked = True
    package = sys.modules.get("asyncio")
    if package is not None and hasattr(package, "Lock"):
        package.Lock = module.Lock


class _Finder:
    """Patches ``asyncio.locks`` right after it executes."""

    def __init__(self, tracking):
        self.tracking = tracking

    def find_spec(self, name, path=None, target=None):
        if name != "asyncio.locks":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        exec_module = loader.exec_module
        tracking = self.tracking

        def exec_and_patch(module):
            exec_module(module)
            _patch(module, tracking)

        loader.exec_module = exec_and_patch
        return spec


def install(creation_site, site_of, stats_lock, every):
    tracking = (creation_site, site_of, stats_lock, every)
    if "asyncio.locks" in sys.modules:
        _patch(sys.modules["asyncio.locks"], tracking)
    else:
        sys.meta_path.insert(0, _Finder(tracking))
