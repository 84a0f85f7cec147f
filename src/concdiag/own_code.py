"""concdiag's own code as it shows up inside a target, and how it is kept out of profiles.

A launched target runs under concdiag's bootstrap (which calls the script through runpy and
wraps every thread's start), may load the deep-mode probe and the in-process agent, and
its command line names the bootstrap. None of that is the user's program. The accounting
strips these frames once, when stacks are counted; renderers use the same rules for profiles
written before that (schema version 1), where they are still present.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Files of concdiag that run inside the target.
OWN_SUFFIXES = (
    "/concdiag/collectors/_bootstrap.py",
    "/concdiag/collectors/_deep_probe.py",
    "/concdiag/collectors/_pool_swap.py",
    "/concdiag/collectors/_pool_watch.py",
    "/concdiag/collectors/inprocess_agent.py",
    "/concdiag/collectors/inprocess_wire.py",
)
#: The lock tracker's files: its frames sit between the user's code and the lock it waits
#: for, so they are dropped and the wait stays the user's (not concdiag's own work).
LOCK_TRACKER_SUFFIXES = (
    "/concdiag/collectors/_lock_tracker.py",
    "/concdiag/collectors/_lock_sites.py",
    "/concdiag/collectors/_lock_asyncio.py",
    "/concdiag/collectors/_lock_classes.py",
    "/concdiag/collectors/_lock_deadlock.py",
)
#: How the bootstrap runs the script: runpy, frozen or not.
RUNPY_FILES = ("<frozen runpy>",)
RUNPY_SUFFIX = "/runpy.py"
#: The file name of the one frame that stands for concdiag's own work in the target.
OWN_WORK_FILE = "<concdiag>"
OWN_WORK_FRAME = ("(concdiag inside the target)", OWN_WORK_FILE, 0)
#: Functions of ours that only pass control to the user's code (the script, a thread's run,
#: and `whatif`'s wrappers around a pool's methods, a thread's start and sys.stdin, and around
#: a pool's creation: `_pool_swap`'s ``__new__``, ``_create`` and ``_build``, which a forked
#: pool worker inherits on its stack; without them every stack of whatif's first run in a
#: forked worker read as concdiag's own work, and the verdict lost the workers' tasks).
PASS_THROUGH = frozenset(
    {
        "__new__",
        "_create",
        "_build",
        "<module>",
        "main",
        "<lambda>",
        "_bootstrap_inner",
        "_run_target",
        "tracked",
        "tracked_submit",
        "tracked_start",
        "__next__",
    }
)

Frame = tuple[str, str, int]  # function, file, line


def is_own(file: str) -> bool:
    """A file of concdiag's that runs in the target (or the frame standing for its work)."""
    return file == OWN_WORK_FILE or file.endswith(OWN_SUFFIXES + LOCK_TRACKER_SUFFIXES)


def is_launcher(file: str) -> bool:
    """concdiag's own files and runpy: what sits above the user's code."""
    return is_own(file) or file in RUNPY_FILES or file.endswith(RUNPY_SUFFIX)


def _short(function: str) -> str:
    return function.rsplit(".", 1)[-1]


def strip_own(frames: Sequence[Frame]) -> tuple[Frame, ...]:
    """The user's stack: launcher frames above it and our thread-start wrapper removed.

    A stack that runs concdiag's own work (sending events, saving tables, the in-process
    sampler) becomes the single `OWN_WORK_FRAME`, so its time shows as ours, not the user's.
    The lock tracker's frames are simply dropped (see `LOCK_TRACKER_SUFFIXES`).
    """
    if any(f[1].endswith(LOCK_TRACKER_SUFFIXES) for f in frames):
        frames = [f for f in frames if not f[1].endswith(LOCK_TRACKER_SUFFIXES)]
    start = 0
    while start < len(frames) and is_launcher(frames[start][1]):
        if _short(frames[start][0]) not in PASS_THROUGH and is_own(frames[start][1]):
            return (OWN_WORK_FRAME,)
        start += 1
    kept = []
    for frame in frames[start:]:
        if is_own(frame[1]):
            if _short(frame[0]) not in PASS_THROUGH:
                return (OWN_WORK_FRAME,)
            continue
        kept.append(frame)
    if not kept and frames:
        return (OWN_WORK_FRAME,) if any(is_own(f[1]) for f in frames) else tuple(frames[-1:])
    return tuple(kept)


def user_command(argv: Sequence[str]) -> list[str]:
    """A command line as the user wrote it: without concdiag's bootstrap script."""
    if len(argv) >= 2 and argv[1].endswith(OWN_SUFFIXES[0]):
        return [argv[0], *argv[2:]]
    return list(argv)
