"""Helpers shared by the modules that run inside the target (standard library only)."""

import json
import os
import signal
import sysconfig

#: This package's folder: frames from files below it are concdiag's, never the user's.
AGENT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")

_STDLIB = tuple(os.path.join(sysconfig.get_paths()[key], "") for key in ("stdlib", "platstdlib"))


def is_ours(filename):
    """A file of this package (the bootstrap, the lock tracker, the pool swap...)."""
    return bool(filename) and os.path.abspath(filename).startswith(AGENT_DIR)


def is_stdlib(filename):
    """The running interpreter's standard library or a frozen module; installed packages
    (site-packages, dist-packages) are not."""
    if filename.startswith("<frozen"):
        return True
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    return filename.startswith(_STDLIB)


def write_atomic(path, data):
    """Write ``data`` (text, or anything JSON can hold) to ``path`` through a rename.

    Never raises: it runs at the target's exit and on SIGTERM, where an error would replace
    the program's own ending. A reader sees the old file or the whole new one.
    """
    tmp = path + ".tmp"
    try:
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass


#: SIGTERM's disposition before the first handler of ours, and our handlers.
_BEFORE_OURS = []
_OUR_HANDLERS = []


def chain_sigterm(save):
    """On SIGTERM call ``save()``, then do what SIGTERM would have done without us.

    A previous Python handler (the program's, or another of ours) is called next; otherwise
    the default is restored and the signal sent again, so the process ends as it would have.
    A SIGTERM the process ignores stays ignored (and nothing is saved on it).
    """
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return
    if previous is signal.SIG_IGN:
        return

    def on_sigterm(signum, frame):
        save()
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        return
    if not _OUR_HANDLERS:
        _BEFORE_OURS.append(previous)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_restore_sigterm_in_child)
    _OUR_HANDLERS.append(on_sigterm)


def _restore_sigterm_in_child():
    """A forked child gets SIGTERM's disposition back from before any handler of ours.

    The child saves nothing (only the process that loaded the agent writes tables), and a
    handler written in Python runs only when the interpreter looks: a SIGTERM landing just
    before a blocking call (a pool worker entering its queue's semaphore) would never be
    acted on, and ``multiprocessing.Pool.terminate()`` ends its workers with SIGTERM.
    """
    try:
        if signal.getsignal(signal.SIGTERM) in _OUR_HANDLERS:
            signal.signal(signal.SIGTERM, _BEFORE_OURS[0])
    except (ValueError, OSError, TypeError):
        pass
