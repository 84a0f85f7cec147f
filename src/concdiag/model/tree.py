"""The target's process tree taken together: an optional part of the profile, present when the
target started child processes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerProcess:
    """One child process of the tree and how busy it kept a core."""

    pid: int
    alive_s: float  # from first to last seen
    busy_s: float  # CPU seconds (user + system) the kernel counted for the process
    busy_share: float  # busy_s / alive_s: 1.0 is one core for its whole life


@dataclass(frozen=True, slots=True)
class ProcessTree:
    """The target's process tree taken together: is multiprocessing paying for its IPC?"""

    processes: int
    workers: list[WorkerProcess]
    cores_used_mean: float  # CPU of every process / wall
    cores_used_peak: float
    worker_busy_s: float
    parent_pickling_s: float  # root process CPU in pickling and unpickling
    parent_send_wait_s: float  # root process blocked sending to workers (pipes, queues)
    parent_feeding_s: float  # the two above
    feeding_bound_speedup: float | None  # (worker busy + feeding) / feeding: IPC's ceiling
    ipc_eats_gain: bool
    note: str
