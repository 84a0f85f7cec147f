"""The process tree taken together: cores used, each worker's busy share, the parent's IPC cost.

A multiprocessing program pays for its parallelism in the parent: every task and result is
pickled and pushed through a pipe. When the parent spends as long feeding the workers as they
spend working, more workers cannot help. This reads only the profile (its processes and the
root's aggregated stacks), so it is a pure function like the rest of the analysis.
"""

from __future__ import annotations

from concdiag.formatting import short_name
from concdiag.model import Frame, ProcessProfile, ProcessTree, StackCount, Summary, WorkerProcess

#: Below this ceiling on speedup, the parent's feeding cost eats most of the gain.
IPC_CEILING = 2.0
#: Fewer cores than this used across the whole tree: the processes did not run in parallel.
PARALLEL_CORES = 1.2

_CPU_STATES = ("gil_held", "native", "gil_wait")
_WAIT_STATES = ("io", "sync")
_PICKLING_FILES = ("/pickle.py", "/copyreg.py", "/multiprocessing/reduction.py")
_PICKLING_FUNCTIONS = {"dumps", "loads", "dump", "load", "_ForkingPickler.dumps"}
_SEND_FILES = ("/multiprocessing/connection.py", "/multiprocessing/queues.py")
_SEND_FUNCTIONS = {"send", "send_bytes", "_send_bytes", "_send", "put", "_feed"}


def _is_pickling(frames: list[Frame]) -> bool:
    return any(
        f.file.endswith(_PICKLING_FILES) or short_name(f.function) in _PICKLING_FUNCTIONS
        for f in frames
    )


def _is_send(frames: list[Frame]) -> bool:
    """Blocked in a send: the innermost pipe or queue frame is a send, not the feeder's wait.

    A queue's feeder thread waits in ``_feed`` for something to send; that idle wait is not
    the parent blocked sending, and it would otherwise be most of a pool's "feeding" time.
    """
    for frame in reversed(frames):
        if frame.file.endswith(_SEND_FILES):
            name = short_name(frame.function)
            return name in _SEND_FUNCTIONS and name != "_feed"
    return False


def tree_of(
    processes: list[ProcessProfile],
    summary: Summary,
    frames: list[Frame],
    stacks: list[StackCount],
    rate_hz: float,
) -> ProcessTree | None:
    """None for a single process; otherwise the tree's figures and whether IPC eats the gain."""
    if len(processes) < 2:
        return None
    root = next((p for p in processes if p.is_root), None)
    root_pid = root.pid if root is not None else None
    interval = 1.0 / rate_hz if rate_hz else 0.0
    workers = []
    for proc in processes:
        if proc.pid == root_pid or not proc.python or proc.helper:
            continue
        # The kernel's CPU count for the process; runnable-but-waiting time (an overloaded
        # machine) would inflate the sampled states. Sampled states only when it is missing.
        busy = proc.cpu_user_s + proc.cpu_system_s
        if busy <= 0:
            busy = sum(
                t.state_seconds.get("gil_held") + t.state_seconds.native for t in proc.threads
            )
        wall = max(proc.alive_s, 1e-9)
        workers.append(WorkerProcess(proc.pid, proc.alive_s, busy, min(busy / wall, 64.0)))
    pickling_s = send_wait_s = 0.0
    for stack in stacks:
        if stack.pid != root_pid:
            continue
        called = [frames[i] for i in stack.frames]
        seconds = stack.count * interval
        if stack.state in _CPU_STATES and _is_pickling(called):
            pickling_s += seconds
        elif stack.state in _WAIT_STATES and _is_send(called):
            send_wait_s += seconds
    feeding_s = pickling_s + send_wait_s
    worker_busy_s = sum(w.busy_s for w in workers)
    ceiling = (worker_busy_s + feeding_s) / feeding_s if feeding_s > 0 else None
    cores_mean = summary.cores_used_mean
    eats = bool(workers) and ceiling is not None and ceiling < IPC_CEILING
    figures = (
        f"{len(workers)} worker process(es) were busy {worker_busy_s:.2f} s in total, the "
        f"parent spent {feeding_s:.2f} s feeding them (pickling {pickling_s:.2f} s, blocked "
        f"sending {send_wait_s:.2f} s), and the tree used {cores_mean:.2f} cores on average"
    )
    helpers = [p.helper for p in processes if p.helper]
    if not workers:
        note = "no Python worker processes were seen"
    elif eats:
        note = f"IPC eats the gain from multiprocessing: {figures}"
    elif cores_mean < PARALLEL_CORES:
        note = (
            f"the processes did not run in parallel, though IPC is cheap: {figures} "
            "(too few free cores, or the workers waited for work)"
        )
    else:
        note = figures
    if helpers:
        why = []
        if "service" in helpers:
            why.append("a local service stands in for another host")
        if any(h != "service" for h in helpers):
            why.append("multiprocessing's machinery starts and tidies after the workers")
        note += f"; not counted as workers: {', '.join(helpers)} ({'; '.join(why)})"
    return ProcessTree(
        processes=len(processes),
        workers=workers,
        cores_used_mean=cores_mean,
        cores_used_peak=summary.cores_used_peak,
        worker_busy_s=worker_busy_s,
        parent_pickling_s=pickling_s,
        parent_send_wait_s=send_wait_s,
        parent_feeding_s=feeding_s,
        feeding_bound_speedup=ceiling,
        ipc_eats_gain=eats,
        note=note,
    )
