"""The processes below a target, found cheaply, so the samplers can follow pool workers."""

from __future__ import annotations

import os

import psutil


def descendants(root_pid: int, root: psutil.Process | None = None) -> list[int]:
    """Every process below ``root_pid``, from ``/proc/<pid>/task/<tid>/children``.

    psutil's ``children(recursive=True)`` reads every process on the machine (tens of ms on a
    busy one, four times a second); the kernel's children lists cost a few reads per process
    of the target's tree. psutil is the fallback where the kernel lacks them.
    """
    found: list[int] = []
    pending = [root_pid]
    while pending:
        pid = pending.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as handle:
                    kids = [int(x) for x in handle.read().split()]
            except FileNotFoundError:
                if pid == root_pid and tid == tids[0] and root is not None:
                    return _psutil_descendants(root)
                continue
            except (OSError, ValueError):
                continue
            found.extend(kids)
            pending.extend(kids)
    return found


def _psutil_descendants(root: psutil.Process) -> list[int]:
    try:
        return [child.pid for child in root.children(recursive=True)]
    except psutil.Error:
        return []


#: New child processes are looked for at most this often, and only when the machine's newest
#: process id (the last field of /proc/loadavg) has moved since the last look. Looked for
#: only with the counters (every 0.25 s), pool workers would go unseen for their first
#: 0.1-0.25 s: an isort -j 2 run's workers, alive 0.4 s, would be first seen 0.12 s after they
#: fork, with a third of their CPU missing from the states. The look costs 3 us per tick
#: (docs/performance.md "Following a process tree's new children").
CHILD_SCAN_EVERY_S = 0.02


class ForkWatch:
    """Says cheaply whether any process or thread was created on the machine since last asked.

    One read of ``/proc/loadavg``, kept open: its last field is the kernel's newest process
    id, which moves with every fork and every new thread anywhere. On a busy machine it says
    "maybe" often; it never says "no" when the target forked.
    """

    def __init__(self) -> None:
        self._fd = -1
        self._last = b""

    def moved(self) -> bool:
        try:
            if self._fd < 0:
                self._fd = os.open("/proc/loadavg", os.O_RDONLY)
            newest = os.pread(self._fd, 128, 0).rsplit(b" ", 1)[-1]
        except OSError:
            return True  # cannot tell: look
        moved = newest != self._last
        self._last = newest
        return moved

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
