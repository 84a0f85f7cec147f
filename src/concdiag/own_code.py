"""concdiag's own code as it shows up inside a target, and how it is kept out of profiles.

A launched target runs under concdiag's bootstrap (which calls the script through runpy and
wraps every thread's start), may load the deep-mode probe and the in-process agent, and
its command line names the bootstrap. None of that is the user's program. The accounting
strips these frames once, when stacks are counted; renderers use the same rules for profiles
written before that (schema version 1), where they are still present.
"""

from __future__ import annotations

from collections.abc import Sequence

from concdiag.formatting import short_name

#: The folder of everything of concdiag's that runs inside the target (``concdiag/agent``).
AGENT_FOLDER = "/concdiag/agent/"
#: The lock tracker's folder: its frames sit between the user's code and the lock it waits
#: for, so they are dropped and the wait stays the user's (not concdiag's own work).
LOCK_TRACKER_FOLDER = AGENT_FOLDER + "locks/"
#: Where the same files sat in recordings and version-1 profiles made before the agent had a
#: folder of its own; those are still read, and their frames are still concdiag's.
EARLIER_OWN_FILES = tuple(
    "/concdiag/collectors/" + name
    for name in (
        "_bootstrap.py",
        "_deep_probe.py",
        "_pool_swap.py",
        "_pool_watch.py",
        "_gil_search.py",
        "inprocess_agent.py",
        "inprocess_wire.py",
    )
)
EARLIER_LOCK_TRACKER_FILES = tuple(
    f"/concdiag/collectors/_lock_{name}.py"
    for name in ("tracker", "sites", "asyncio", "classes", "deadlock")
)
#: The bootstrap, which a target's command line names before the user's script.
BOOTSTRAP_FILES = (AGENT_FOLDER + "bootstrap.py", EARLIER_OWN_FILES[0])
#: How the bootstrap runs the script: runpy, frozen or not.
RUNPY_FILES = ("<frozen runpy>",)
RUNPY_SUFFIX = "/runpy.py"
#: The file name of the one frame that stands for concdiag's own work in the target.
OWN_WORK_FILE = "<concdiag>"
OWN_WORK_FRAME = ("(concdiag inside the target)", OWN_WORK_FILE, 0)
#: Functions of ours that only pass control to the user's code (the script, a thread's run,
#: and `whatif`'s wrappers around a pool's methods, a thread's start and sys.stdin, and around
#: a pool's creation: `agent/pools/swap.py`'s ``__new__``, ``_create`` and ``_build``, which a
#: forked pool worker inherits on its stack; without them every stack of whatif's first run in
#: a forked worker would read as concdiag's own work, and the verdict would lose the workers'
#: tasks).
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
    return (
        file == OWN_WORK_FILE
        or AGENT_FOLDER in file
        or file.endswith(EARLIER_OWN_FILES + EARLIER_LOCK_TRACKER_FILES)
    )


def is_lock_tracker(file: str) -> bool:
    """A file of the lock tracker's, whose frames are dropped from the user's stacks."""
    return LOCK_TRACKER_FOLDER in file or file.endswith(EARLIER_LOCK_TRACKER_FILES)


def is_launcher(file: str) -> bool:
    """concdiag's own files and runpy: what sits above the user's code."""
    return is_own(file) or file in RUNPY_FILES or file.endswith(RUNPY_SUFFIX)


def strip_own(frames: Sequence[Frame]) -> tuple[Frame, ...]:
    """The user's stack: launcher frames above it and our thread-start wrapper removed.

    A stack that runs concdiag's own work (sending events, saving tables, the in-process
    sampler) becomes the single `OWN_WORK_FRAME`, so its time shows as ours, not the user's.
    The lock tracker's frames are simply dropped (see `LOCK_TRACKER_FOLDER`).
    """
    if any(is_lock_tracker(f[1]) for f in frames):
        frames = [f for f in frames if not is_lock_tracker(f[1])]
    start = 0
    while start < len(frames) and is_launcher(frames[start][1]):
        if short_name(frames[start][0]) not in PASS_THROUGH and is_own(frames[start][1]):
            return (OWN_WORK_FRAME,)
        start += 1
    kept = []
    for frame in frames[start:]:
        if is_own(frame[1]):
            if short_name(frame[0]) not in PASS_THROUGH:
                return (OWN_WORK_FRAME,)
            continue
        kept.append(frame)
    if not kept and frames:
        return (OWN_WORK_FRAME,) if any(is_own(f[1]) for f in frames) else tuple(frames[-1:])
    return tuple(kept)


def user_command(argv: Sequence[str]) -> list[str]:
    """A command line as the user wrote it: without concdiag's bootstrap script."""
    if len(argv) >= 2 and argv[1].endswith(BOOTSTRAP_FILES):
        return [argv[0], *argv[2:]]
    return list(argv)
