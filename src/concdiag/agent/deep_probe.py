"""Deep mode, inside the target: run yappi for the whole run and save its tables at exit.

Loaded by the bootstrap; like every module of the agent it uses only the standard library
and runs under any Python from 3.10 to 3.15.

Protocol: concdiag sets ``CONCDIAG_DEEP`` to a JSON object ``{"out": PATH, "clock":
"cpu"|"wall"|"auto", "fallback": DIR}``. `prepare` loads yappi (from the target's own
environment, else from ``fallback``, a folder holding concdiag's own yappi, used only when
its compiled extension fits this interpreter) and returns a status for the hello message;
`Probe.start` starts yappi just before the user's code; the tables are written to ``out``
as JSON when the interpreter exits: normally, through ``sys.exit``, an uncaught exception,
KeyboardInterrupt, or SIGTERM (a handler saves them, then lets SIGTERM end the process as it
would have). ``os._exit`` and SIGKILL leave no tables; concdiag then says so.

Thread identity: yappi keys threads by its own context ids; a context-name callback records
each thread's OS id and name when yappi first sees it, so concdiag can join yappi's threads
with the sampler's.
"""

import os
import re
import sys
import threading
import time

from .common import chain_sigterm, is_ours, write_atomic

#: Functions kept per thread, by each ordering; the union is written.
TOP_PER_THREAD = 100
_SEP = "\x1f"
_ASYNC = re.compile(rb"\basync\s+def\b|\bimport\s+asyncio\b|\bfrom\s+asyncio\b")
#: concdiag's functions that call the user's code (main, the runner, the thread hook, runpy);
#: everything else of ours, and what only it calls (json for the event pipe), is left out.
_PASS_THROUGH = ("main", "<lambda>", "_bootstrap_inner")


def _is_own(module):
    return is_ours(module) or "runpy" in module


def _version(yappi, fallback_version="?"):
    if getattr(yappi, "_concdiag_fallback", False):
        return fallback_version
    try:
        import importlib.metadata

        return importlib.metadata.version("yappi")
    except Exception:
        return getattr(yappi, "__version__", "?")


def _load_yappi(fallback):
    """Import yappi; returns (module, where) or (None, reason)."""
    # The bootstrap's folder (concdiag/agent) is sys.path[0] until the script runs.
    here = os.path.dirname(os.path.abspath(__file__))
    saved_path = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        import yappi

        return yappi, "target environment"
    except ImportError as exc:
        first_error = str(exc)
    finally:
        sys.path[:] = saved_path
    if fallback and _fallback_fits(fallback):
        sys.path.insert(0, fallback)
        try:
            import yappi

            yappi._concdiag_fallback = True
            return yappi, "concdiag's environment"
        except ImportError:
            for name in ("yappi", "_yappi"):
                sys.modules.pop(name, None)
        finally:
            try:
                sys.path.remove(fallback)
            except ValueError:
                pass
    version = "%d.%d" % sys.version_info[:2]
    return (
        None,
        "yappi cannot be loaded by %s (Python %s): %s; install it there (%s -m pip "
        "install yappi), or concdiag's deep extra where concdiag runs (pip install "
        "'concdiag[deep]')"
        % (
            sys.executable,
            version,
            first_error,
            sys.executable,
        ),
    )


def _fallback_fits(folder):
    """concdiag's yappi is usable only if its compiled extension was built for this Python."""
    import importlib.machinery

    try:
        names = os.listdir(folder)
    except OSError:
        return False
    # Only the version-tagged suffix: the bare ".so" would match any build.
    tagged = importlib.machinery.EXTENSION_SUFFIXES[0]
    return "_yappi" + tagged in names


def _source_of(target, module_mode):
    try:
        if module_mode:
            import importlib.util

            spec = importlib.util.find_spec(target)
            path = spec.origin if spec is not None else None
        else:
            path = target
            if os.path.isdir(path):
                path = os.path.join(path, "__main__.py")
        if not path:
            return b""
        with open(path, "rb") as handle:
            return handle.read(1 << 20)
    except Exception:
        return b""


def choose_clock(requested, source):
    """'auto' picks wall time for asyncio programs (yappi then times awaits), CPU otherwise."""
    if requested in ("cpu", "wall"):
        return requested, "requested"
    if _ASYNC.search(source):
        return "wall", "asyncio target: coroutine wall time includes awaits"
    return "cpu", "per-function CPU time"


class Probe:
    def __init__(self, yappi, where, config):
        self.yappi = yappi
        self.where = where
        self.out = config["out"]
        self.requested_clock = config.get("clock", "auto")
        self.fallback_version = str(config.get("fallback_version", "?"))
        self.clock = "cpu"
        self.clock_reason = ""
        self.pid = os.getpid()
        self.started = False
        self.saved = False
        self.t_start = 0.0

    def status(self):
        return {
            "ok": True,
            "detail": "yappi %s from the %s"
            % (_version(self.yappi, self.fallback_version), self.where),
        }

    def start(self, target, module_mode):
        """Start yappi just before the user's code runs, with the clock the target needs."""
        yappi = self.yappi
        self.clock, self.clock_reason = choose_clock(
            self.requested_clock, _source_of(target, module_mode)
        )
        yappi.set_clock_type(self.clock)
        yappi.set_context_name_callback(_thread_label)
        import atexit

        atexit.register(self.save)
        chain_sigterm(self.save)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._in_child)
        self.t_start = time.monotonic()
        yappi.start(builtins=False, profile_threads=True)
        self.started = True

    def _in_child(self):
        """A forked child (multiprocessing) runs untraced: its tables would be half a run."""
        try:
            self.yappi.stop()
        except Exception:
            pass

    def save(self):
        """Stop yappi and write its per-thread tables; at most once, and only in our process."""
        if self.saved or not self.started or os.getpid() != self.pid:
            return
        self.saved = True
        t_stop = time.monotonic()
        try:
            self.yappi.stop()
        except Exception:
            pass
        t0 = time.monotonic()
        try:
            data = self._collect()
        except Exception as exc:
            data = {
                "format": "concdiag-yappi",
                "version": 1,
                "error": "%s: %s"
                % (
                    type(exc).__name__,
                    exc,
                ),
            }
        data["duration_s"] = t_stop - self.t_start
        data["collect_s"] = time.monotonic() - t0
        write_atomic(self.out, data)

    def _collect(self):
        yappi = self.yappi
        by_ctx = {}
        for entry in _func_entries(yappi):
            by_ctx.setdefault(entry[10], []).append(entry)
        threads = []
        for ctx in yappi.get_thread_stats():
            label = ctx.name if isinstance(ctx.name, str) else ""
            native, _, name = label.partition(_SEP)
            entries = by_ctx.get(ctx.id, [])
            hidden = _concdiag_only(entries)
            functions = [
                [str(e[0]), str(e[1]), int(e[2]), int(e[3]), int(e[4]), float(e[6]), float(e[7])]
                for e in entries
                if e[8] not in hidden
            ]
            by_total = sorted(functions, key=lambda r: -r[5])[:TOP_PER_THREAD]
            by_self = sorted(functions, key=lambda r: -r[6])[:TOP_PER_THREAD]
            by_calls = sorted(functions, key=lambda r: -r[3])[:TOP_PER_THREAD]
            kept = {id(r): r for r in by_total + by_self + by_calls}
            threads.append(
                {
                    "ctx_id": int(ctx.id),
                    "native_id": int(native) if native.isdigit() else None,
                    "ident": int(ctx.tid),
                    "name": name or label,
                    "ttot": float(ctx.ttot),
                    "sched_count": int(ctx.sched_count),
                    "functions_total": len(functions),
                    "functions": sorted(kept.values(), key=lambda r: -r[5]),
                }
            )
        return {
            "format": "concdiag-yappi",
            "version": 1,
            "yappi_version": _version(yappi, self.fallback_version),
            "python": sys.version.split()[0],
            "pid": self.pid,
            "clock": self.clock,
            "clock_reason": self.clock_reason,
            "function_fields": ["name", "file", "line", "ncall", "nactualcall", "ttot", "tsub"],
            "threads": threads,
        }


def _func_entries(yappi):
    """Every (function, thread) entry once: yappi's C enumeration is 100x faster than asking
    ``get_func_stats`` per thread, which re-reads all entries each time. Tuples hold name,
    module, lineno, ncall, nactualcall, builtin, ttot, tsub, index, children, ctx_id, ..."""
    entries = []
    try:
        yappi._yappi.enum_func_stats(entries.append, {})
    except Exception:
        entries = []
        for f in yappi.get_func_stats():  # merged over threads; better than nothing
            children = [(c.index, c.ncall, c.nactualcall, c.ttot, c.tsub) for c in f.children]
            entries.append(
                (
                    f.name,
                    f.module,
                    f.lineno,
                    f.ncall,
                    f.nactualcall,
                    f.builtin,
                    f.ttot,
                    f.tsub,
                    f.index,
                    children,
                    f.ctx_id,
                )
            )
    return [e for e in entries if os.path.basename(str(e[1])) != "yappi.py" and e[1] != "_yappi"]


def _concdiag_only(entries):
    """Indexes of our functions and of those only they call (the event pipe's json)."""
    parents = {}
    for e in entries:
        for child in e[9]:
            parents.setdefault(child[0], set()).add(e[8])
    hidden = {e[8] for e in entries if _is_own(str(e[1]))}
    blocking = {
        e[8]
        for e in entries
        if _is_own(str(e[1])) and not (e[0] in _PASS_THROUGH or "runpy" in str(e[1]))
    }
    changed = True
    while changed:
        changed = False
        for e in entries:
            index = e[8]
            if index in blocking:
                continue
            callers = parents.get(index)
            if callers and callers <= blocking:
                blocking.add(index)
                hidden.add(index)
                changed = True
    return hidden


def _thread_label():
    """Called by yappi in each thread it first sees: its OS id and name."""
    thread = getattr(threading, "_active", {}).get(threading.get_ident())
    name = thread.name if thread is not None else "thread"
    return "%d%s%s" % (threading.get_native_id(), _SEP, name)


def prepare(config):
    """Load yappi; returns (probe or None, status dict for concdiag)."""
    yappi, where = _load_yappi(config.get("fallback"))
    if yappi is None:
        return None, {"ok": False, "detail": where}
    probe = Probe(yappi, where, config)
    return probe, probe.status()
