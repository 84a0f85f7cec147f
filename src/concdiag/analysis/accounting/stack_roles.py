"""What a sampled stack says a thread is doing: the program's work, a pool's, or waiting.

A stack is read from its outermost frame in. Two frames set where *the program* ends and
what it calls begins:

- the innermost frame of **the program's own code**: anything that is not the standard
  library (nor a frozen module) and not concdiag, so installed packages (``site-packages``)
  count as the program's, as they must for a program run with ``-m`` or an entry point;
- the innermost **task call**: a pool's line that calls the submitted function
  (``_process_worker``'s call in a process pool, ``_WorkItem.run`` in a thread pool,
  ``multiprocessing.pool.worker`` and its map helpers, a process's ``run``). Whatever runs
  below that line is the task's own work, whether Python frames show for it or not: code
  compiled with mypyc or Cython, or a C extension, runs with the task-call line innermost.

Below the later of the two, the pool's machinery (``concurrent.futures``,
``multiprocessing``) is the pool's own cost (dispatching tasks, pickling and piping their
arguments and results) when on a CPU, and *coordination* (waiting for other workers) when
blocked; so are joins and waits for results in ``threading``/``queue``. An asyncio event
loop blocked in its selector is flagged separately: the accounting decides whether it was
waiting for a pool's tasks (they were running meanwhile) or for I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from concdiag.formatting import short_name
from concdiag.own_code import is_own

Frames = tuple[tuple[str, str, int], ...]

#: Concurrency machinery, by path fragment: waits in it (below the program's own frames) are
#: waits for other workers, and CPU in it is the cost of running work in a pool.
MACHINERY_PATHS = (
    "/concurrent/futures/",
    "/multiprocessing/",
)
#: A pool's task-call frames, by file and function (qualified as py-spy names them from 3.11,
#: bare before): the frame whose line calls a submitted task, or passes it on to the frame
#: that does (map's chunk helpers, a process's run calling its target).
TASK_CALLS: dict[str, frozenset[str]] = {
    "/concurrent/futures/process.py": frozenset(
        {"_process_worker", "_process_chunk", "_process_chunk.<locals>.<listcomp>"}
    ),
    # from 3.14 a work item runs its task through its worker's context (WorkerContext.run)
    "/concurrent/futures/thread.py": frozenset({"_WorkItem.run", "WorkerContext.run", "run"}),
    "/multiprocessing/pool.py": frozenset({"worker", "mapstar", "starmapstar"}),
    "/multiprocessing/process.py": frozenset({"BaseProcess.run", "run"}),
}
#: Functions in threading.py / queue.py whose waits are joins or idle waits for work.
COORDINATION_FUNCS = frozenset(
    {
        "join",
        "_wait_for_tstate_lock",
        "wait",
        "wait_for",
        "get",
        "result",
        "as_completed",
        "shutdown",
    }
)
#: Machinery functions that move a task's arguments or result between processes.
SERIALISE_FUNCS = frozenset(
    {
        "dumps",
        "loads",
        "_feed",
        "send",
        "recv",
        "send_bytes",
        "recv_bytes",
        "_send_bytes",
        "_recv_bytes",
        "_send",
        "_recv",
        "get",
        "put",
        "_sendback_result",
    }
)
#: Distinct stacks whose judgement is kept (a run has a few thousand at most).
CACHE_STACKS = 65536


def _path(filename: str) -> str:
    return filename.replace("\\", "/")


def is_stdlib(filename: str) -> bool:
    """The standard library or a frozen module (installed packages are not)."""
    path = _path(filename)
    if "/site-packages/" in path or "/dist-packages/" in path:
        return False
    return "/lib/python3" in path or "/lib64/python3" in path or path.startswith("<frozen")


def is_library(filename: str) -> bool:
    """Not the program's own code: the standard library, frozen modules, or concdiag."""
    return is_stdlib(filename) or is_own(_path(filename))


def program_line(
    frames: Sequence[tuple[str, str, int]], also_skip: str = ""
) -> tuple[str, str, int] | None:
    """The innermost frame of the program's own code (outside the standard library); else
    the innermost frame outside files whose path holds ``also_skip``; None when there is no
    Python stack. The frames are a cursor's: concdiag's own are already out."""
    for frame in reversed(frames):
        if not is_library(frame[1]):
            return (frame[0], frame[1], frame[2])
    for frame in reversed(frames):
        if not (also_skip and also_skip in frame[1]):
            return (frame[0], frame[1], frame[2])
    return None


T = TypeVar("T")


class PerStack(Generic[T]):
    """A judgement of a thread's stack, made again only when the stack changed: a cursor
    hands out one tuple per distinct stack, and most ticks find the stack of the tick
    before, so the per-tick cost is one identity check."""

    def __init__(self, judge: Callable[[Frames], T]) -> None:
        self.judge = judge
        self.last: dict[tuple[int, int], tuple[Frames, T]] = {}

    def __call__(self, key: tuple[int, int], frames: Frames) -> T:
        seen = self.last.get(key)
        if seen is not None and seen[0] is frames:
            return seen[1]
        value = self.judge(frames)
        self.last[key] = (frames, value)
        return value


def in_machinery(filename: str) -> bool:
    path = _path(filename)
    return any(part in path for part in MACHINERY_PATHS)


def _is_task_call_frame(frames: Frames, i: int) -> bool:
    function, filename, _line = frames[i]
    path = _path(filename)
    for suffix, functions in TASK_CALLS.items():
        if path.endswith(suffix):
            if function in functions:
                return True
            # Python 3.10 names the chunk's comprehension without its owner.
            return function == "<listcomp>" and i > 0 and frames[i - 1][0] == "_process_chunk"
    return False


def _calls_task(frames: Frames, i: int) -> bool:
    """Frame ``i`` is a task-call frame and is calling the task now, not the machinery.

    Its line is the task call when nothing is below it (compiled or native code runs), or
    what is below is not machinery (the task's Python code), or is the next task-call frame.
    """
    if not _is_task_call_frame(frames, i):
        return False
    if i + 1 == len(frames):
        return True
    return not in_machinery(frames[i + 1][1]) or _is_task_call_frame(frames, i + 1)


@dataclass(frozen=True, slots=True)
class StackRoles:
    """What one stack says, computed once per distinct stack."""

    #: A wait here waits for other workers (a join, a future, a pool's results, an idle
    #: pool worker), not for a resource.
    coordination: bool
    #: On a CPU here: ``serialise`` or ``dispatch`` when it runs pool machinery, else None.
    overhead: str | None
    #: The thread is running a pool's task (its own code or what it calls, not machinery).
    in_task: bool
    #: Blocked here: an asyncio event loop waiting in its selector.
    loop_wait: bool
    #: Importing a module (the import system's ``_find_and_load`` is on the stack): start-up
    #: work a process does once, which does not divide among workers.
    importing: bool = False


def below_program(frames: Frames) -> tuple[Frames, bool]:
    """The frames below the program (or the task it runs), and whether a task runs.

    The program ends at its own innermost frame or at the innermost task call, whichever
    is deeper; with neither, every frame is library code and all of them are returned.
    """
    own = -1
    for i in range(len(frames) - 1, -1, -1):
        if not is_library(frames[i][1]):
            own = i
            break
    task = -1
    for i in range(len(frames) - 1, -1, -1):
        if _calls_task(frames, i):
            task = i
            break
    boundary = max(own, task)
    below = frames[boundary + 1 :] if boundary >= 0 else frames
    in_task = task >= 0 and not any(in_machinery(f[1]) for f in below)
    return below, in_task


def _coordination(below: Frames) -> bool:
    for function, filename, _line in below:
        if in_machinery(filename):
            return True
        base = _path(filename).rsplit("/", 1)[-1]
        if base in ("threading.py", "queue.py") and short_name(function) in COORDINATION_FUNCS:
            return True
    return False


def _overhead(below: Frames) -> str | None:
    machinery = [f for f in below if in_machinery(f[1])]
    if not machinery:
        return None
    if any(short_name(f[0]) in SERIALISE_FUNCS for f in machinery):
        return "serialise"
    return "dispatch"


def _loop_wait(frames: Frames) -> bool:
    if not frames or not _path(frames[-1][1]).endswith("/selectors.py"):
        return False
    return any(
        short_name(f[0]) == "_run_once" and _path(f[1]).endswith("/asyncio/base_events.py")
        for f in frames
    )


@lru_cache(maxsize=CACHE_STACKS)
def roles_of(frames: Frames) -> StackRoles:
    """The judgement of one stack (cached: the same stacks come back tick after tick)."""
    if not frames:
        return StackRoles(False, None, False, False)
    below, in_task = below_program(frames)
    return StackRoles(
        coordination=_coordination(below),
        overhead=_overhead(below),
        in_task=in_task,
        loop_wait=_loop_wait(frames),
        importing=any(
            f[0] == "_find_and_load" and f[1] == "<frozen importlib._bootstrap>" for f in frames
        ),
    )


def is_coordination(frames: Frames) -> bool:
    """A wait for other workers: a join, a future, a pool's results, an idle pool worker.

    It is judged on the library frames below the program's own last frame (or the task it
    runs), so a pool worker blocked in its task's own ``recv`` is I/O, while the pool's
    manager thread waiting for results (in multiprocessing, under selectors) is coordination.
    """
    return roles_of(frames).coordination


def pool_overhead(frames: Frames) -> str | None:
    """For an on-CPU sample: ``serialise`` or ``dispatch`` when it runs pool machinery.

    CPU spent in concurrent.futures / multiprocessing below the program's own frames and
    outside a task is the price of the pool, not the work: submitting tasks, managing
    futures and worker processes (``dispatch``), or pickling and piping arguments and
    results (``serialise``).
    """
    return roles_of(frames).overhead
