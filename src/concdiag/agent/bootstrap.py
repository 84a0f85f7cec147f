"""Runs inside the target's interpreter before the user's script, then runs the script.

This file is executed by path under whatever Python the user profiles (3.10 to 3.15), so it
imports nothing from concdiag and only the standard library. It:

- checks the target (missing file, directory, syntax error, unknown module) and reports the
  problem to concdiag instead of starting;
- lets concdiag's process tree trace it under Yama ``ptrace_scope=1`` (``PR_SET_PTRACER``);
- on 3.10-3.12, finds the interpreter's GIL state in its own memory (``gil_search.py``) so
  the out-of-process sampler can read who holds the GIL (see docs/measurement.md, "GIL
  holder"); 3.13+ need no search: concdiag reads the interpreter's debug offsets from outside;
- on a free-threaded build running without the GIL, reports the import that turns it back on;
- reports thread starts and ends (OS id, Python ident, name) on the event pipe;
- estimates what the first tasks of each thread pool would cost to pickle for a process pool
  (``pools/shipping.py``);
- with lock tracking, replaces the lock types just before the script runs
  (``locks/tracker.py``), and forwards a deadlock it finds on the event pipe;
- waits for concdiag's "go" so sampling covers the script from its first line;
- runs the script or module the way ``python SCRIPT ARGS`` / ``python -m MODULE ARGS`` would.
"""

import os
import sys

_EVENT_FD = -1
_T0 = 0.0


def _send(message):
    """Write one JSON line to concdiag; never let a closed pipe break the target."""
    global _EVENT_FD
    if _EVENT_FD < 0:
        return
    import json

    message["pid"] = os.getpid()
    data = (json.dumps(message) + "\n").encode("utf-8", "replace")
    try:
        os.write(_EVENT_FD, data)
    except OSError:
        _EVENT_FD = -1


def _fail(kind, text):
    if _EVENT_FD < 0:
        sys.stderr.write(f"concdiag bootstrap: {text}\n")
    _send({"type": "error", "kind": kind, "message": text})
    sys.exit(2)


def _allow_tracing(tracer_pid):
    """Under Yama ptrace_scope=1 only ancestors may trace; name concdiag as our tracer."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_ptracer = 0x59616D61
        libc.prctl(pr_set_ptracer, int(tracer_pid), 0, 0, 0)
    except Exception:
        pass


#: The start of CPython's warning when importing a module turns the GIL back on (3.13+).
_GIL_WARNING = "The global interpreter lock (GIL) has been enabled to load module '"


def _watch_gil_enabling():
    """Free-threaded build, GIL off: say which import turns it back on, from its warning."""
    import time
    import warnings

    shown = warnings._showwarnmsg

    def _showwarnmsg(msg):
        text = str(msg.message)
        if text.startswith(_GIL_WARNING):
            module = text[len(_GIL_WARNING) :].split("'", 1)[0]
            _send({"type": "gil_enabled", "module": module, "t": time.monotonic()})
        shown(msg)

    warnings._showwarnmsg = _showwarnmsg


def _hook_threads():
    """Report each thread's OS id, ident and name when it starts and ends."""
    import threading
    import time

    original = threading.Thread._bootstrap_inner

    def _bootstrap_inner(self):
        _send(
            {
                "type": "thread_start",
                "tid": threading.get_native_id(),
                "ident": threading.get_ident(),
                "name": self.name,
                "t": time.monotonic(),
            }
        )
        try:
            original(self)
        finally:
            _send(
                {
                    "type": "thread_end",
                    "tid": threading.get_native_id(),
                    "ident": threading.get_ident(),
                    "name": self.name,
                    "t": time.monotonic(),
                }
            )

    threading.Thread._bootstrap_inner = _bootstrap_inner


def _report_names_at_exit():
    import threading

    names = {}
    for thread in threading.enumerate():
        if thread.native_id is not None:
            names[str(thread.native_id)] = thread.name
    gil_enabled = bool(getattr(sys, "_is_gil_enabled", lambda: True)())
    _send({"type": "exit", "names": names, "gil_enabled": gil_enabled})


#: The name this folder is loaded under in the target: private, so it can clash with nothing
#: the program imports, and not ``concdiag`` (the target's environment may have another).
PACKAGE = "_concdiag_agent"


def agent_module(name):
    """One of concdiag's in-target modules (``locks.tracker``...), imported from this folder.

    The folder is registered once as the package `PACKAGE`, so its modules import each other
    relatively; this is the only place that loads concdiag's code by path.
    """
    import importlib
    import importlib.util

    if PACKAGE not in sys.modules:
        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location(
            PACKAGE, os.path.join(here, "__init__.py"), submodule_search_locations=[here]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return importlib.import_module(PACKAGE + "." + name)


def _start_inprocess(spec, hello):
    path, rate = spec.rsplit(",", 1)
    agent_module("inprocess.sampler").start(path, float(rate), hello)


def _check_script(path):
    if not os.path.exists(path):
        _fail("missing", f"no such file: {path}")
    if os.path.isdir(path):
        main_py = os.path.join(path, "__main__.py")
        if not os.path.isfile(main_py):
            _fail("directory", f"{path} is a directory with no __main__.py")
        return
    try:
        with open(path, "rb") as source:
            code = source.read()
    except OSError as exc:
        _fail("unreadable", f"cannot read {path}: {exc.strerror}")
    try:
        compile(code, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        _fail(
            "syntax",
            f"syntax error in {exc.filename or path} line {exc.lineno}: {exc.msg}",
        )
    except ValueError as exc:
        _fail("syntax", f"cannot compile {path}: {exc}")


def _check_module(name):
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        _fail("module", f"cannot find module {name}: {exc}")
    if spec is None:
        _fail("module", f"no module named {name}")


def _own_frame_filter():
    """A function that drops runpy's and concdiag's own frames from a traceback, as ``python
    SCRIPT`` shows it (this file above the script, the lock tracker below a ``with lock:``).

    Everything it needs is looked up now: it also runs while the interpreter shuts down (a
    deadlocked thread interrupted after the main thread ended), when this module's globals
    are already cleared.
    """
    import runpy
    import types

    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    runpy_file = os.path.abspath(runpy.__file__)
    make = types.TracebackType

    def ours(filename):
        return filename.startswith((here, "<frozen runpy")) or filename == runpy_file

    def strip(tb):
        kept = []
        while tb is not None:
            if not ours(tb.tb_frame.f_code.co_filename):
                kept.append(tb)
            tb = tb.tb_next
        rebuilt = None
        for entry in reversed(kept):
            rebuilt = make(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
        return rebuilt

    return strip


def _hide_own_frames():
    """Tracebacks the target prints (its main thread's, its threads') show none of
    concdiag's frames: an interrupt that ends a deadlocked thread is raised inside the lock
    tracker, and the script runs under this file."""
    import threading

    strip = _own_frame_filter()
    shown = sys.excepthook
    thread_shown = threading.excepthook
    hook_args = threading.ExceptHookArgs

    # the interpreter prints the exception's own traceback, not the one it is handed
    def excepthook(kind, value, tb):
        tb = strip(tb)
        shown(kind, value.with_traceback(tb) if value is not None else value, tb)

    def thread_excepthook(args):
        tb = strip(args.exc_traceback)
        value = args.exc_value.with_traceback(tb) if args.exc_value is not None else None
        thread_shown(hook_args([args.exc_type, value, tb, args.thread]))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
    return strip


def _load_deep():
    """Deep mode (``--deep``): yappi, driven by ``deep_probe.py``."""
    raw = os.environ.pop("CONCDIAG_DEEP", "")
    if not raw:
        return None, None
    try:
        import json

        return agent_module("deep_probe").prepare(json.loads(raw))
    except Exception as exc:
        return None, {"ok": False, "detail": f"deep probe failed: {type(exc).__name__}: {exc}"}


def _load_locks():
    """Lock tracking (``locks/tracker.py``): loaded now, installed later."""
    raw = os.environ.pop("CONCDIAG_LOCKS", "")
    if not raw:
        return None, None
    try:
        return (agent_module("locks.tracker"), __import__("json").loads(raw)), {"ok": True}
    except Exception as exc:
        return None, {"ok": False, "detail": f"lock tracker failed: {type(exc).__name__}: {exc}"}


def _load_pool_swap():
    """``concdiag whatif``: swap the program's pools (``pools/swap.py``)."""
    raw = os.environ.pop("CONCDIAG_POOL_SWAP", "")
    try:
        if raw:
            agent_module("pools.swap").install(__import__("json").loads(raw))
    except Exception as exc:
        sys.stderr.write(f"concdiag: pools not swapped: {type(exc).__name__}: {exc}\n")


def _load_task_shipping():
    """What the thread pools' tasks would cost to ship to processes (``pools/shipping.py``)."""
    try:
        agent_module("pools.shipping").install(_send)
    except Exception as exc:
        _send({"type": "task_shipping_failed", "detail": f"{type(exc).__name__}: {exc}"})


def main():
    global _T0
    import time

    _T0 = time.monotonic()
    spec = os.environ.pop("CONCDIAG_PROBE", "")
    bare = os.environ.pop("CONCDIAG_BARE", "") == "1"  # whatif's timed reruns: no samplers
    if not bare:
        control_fd, tracer_pid = _open_channel(spec)
    target, args, module_mode = _target_args()
    if bare:
        _load_pool_swap()
        _run_target(target, args, module_mode, None, None)
        return

    _allow_tracing(tracer_pid)
    gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    hello = _hello(gil_enabled)
    if not gil_enabled:
        _watch_gil_enabling()
    _hook_threads()
    deep, deep_status = _load_deep()
    if deep_status is not None:
        hello["deep"] = deep_status
    locks, locks_status = _load_locks()
    if locks_status is not None:
        hello["locks"] = locks_status
    _load_pool_swap()
    _load_task_shipping()
    import atexit

    atexit.register(_report_names_at_exit)
    _send(hello)

    inprocess = os.environ.pop("CONCDIAG_INPROCESS", "")
    # Wait until concdiag's samplers are attached ("g"), or until it asks this process to
    # sample itself ("i": tracing is not allowed, or the in-process collector was forced).
    try:
        go = os.read(control_fd, 1)
    finally:
        os.close(control_fd)
    if go == b"i" and inprocess:
        _start_inprocess(inprocess, hello)

    _run_target(target, args, module_mode, deep, locks)


def _open_channel(spec):
    """The control and event pipes concdiag passed (``CONCDIAG_PROBE``), kept from children;
    the control pipe and the tracer's pid are returned, events go to ``_EVENT_FD``."""
    global _EVENT_FD
    try:
        control_fd, event_fd, tracer_pid = (int(x) for x in spec.split(","))
    except ValueError:
        sys.stderr.write("concdiag bootstrap: started without concdiag\n")
        sys.exit(2)
    for fd in (control_fd, event_fd):
        os.set_inheritable(fd, False)
    _EVENT_FD = event_fd
    return control_fd, tracer_pid


def _target_args():
    """The script or module to run and its arguments, checked before anything else starts."""
    args = sys.argv[1:]
    module_mode = bool(args) and args[0] == "-m"
    if module_mode:
        args = args[1:]
    if not args:
        _fail("usage", "no script given")
    target = args[0]
    if module_mode:
        sys.path[0] = os.getcwd()  # as python -m does, so local packages are found
        _check_module(target)
    else:
        _check_script(target)
    return target, args, module_mode


def _hello(gil_enabled):
    """What concdiag learns of this interpreter first: its version, its GIL and where it is."""
    hello = {
        "type": "hello",
        "executable": sys.executable,
        "version": sys.version.split()[0],
        "implementation": sys.implementation.name,
        "gil_enabled": bool(gil_enabled),
        "free_threaded_build": bool(
            __import__("sysconfig").get_config_var("Py_GIL_DISABLED") or False
        ),
        "switch_interval_s": sys.getswitchinterval(),
        "main_tid": __import__("threading").get_native_id(),
        "main_ident": __import__("threading").get_ident(),
        "t0_monotonic": _T0,
    }
    if gil_enabled and sys.version_info < (3, 13):
        try:
            hello.update(agent_module("gil_search").find_gil())
        except Exception as exc:
            hello["gil_error"] = f"{type(exc).__name__}: {exc}"
    return hello


def _run_target(target, args, module_mode, deep, locks):
    """Run the script or module as ``python SCRIPT ARGS`` / ``python -m MODULE ARGS`` would."""
    import runpy
    import time

    sys.argv = [target, *args[1:]]
    if module_mode:
        sys.path[0] = os.getcwd()
        runner = lambda: runpy.run_module(target, run_name="__main__", alter_sys=True)  # noqa: E731
    else:
        sys.path[0] = os.path.dirname(os.path.abspath(target))
        runner = lambda: runpy.run_path(target, run_name="__main__")  # noqa: E731
    strip = _hide_own_frames()
    _send({"type": "started", "t": time.monotonic()})
    if deep is not None:
        deep.start(target, module_mode)
    if locks is not None:  # after deep mode: its SIGTERM handler is then chained, not skipped
        locks[0].install(locks[1], _send)
    try:
        runner()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        # said apart from a plain exit status, so `whatif` reruns a linter that exits 1 by
        # choice but not a program that crashed
        _send({"type": "uncaught", "error": type(exc).__name__})
        tb = strip(exc.__traceback__)
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        sys.exit(1)


if __name__ == "__main__":
    main()
