"""What `whatif` observed: the pools a run created and swapped, and each timed rerun."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Pool kinds as the in-target module names them, and the family each belongs to.
POOL_FAMILIES = {
    "thread_pool_executor": "threads",
    "process_pool_executor": "processes",
    "thread_pool": "threads",
    "process_pool": "processes",
}


@dataclass(frozen=True, slots=True)
class PoolSeen:
    kind: str  # a key of POOL_FAMILIES
    file: str | None
    line: int | None
    code: str
    workers: int | None  # as asked; None: the pool's default
    default_workers: int
    became: str | None  # the family it was swapped to, None when kept as written
    workers_used: int | None
    note: str
    named: bool  # the source line names the pool (False: compiled code or a helper made it)
    count: int

    @property
    def family(self) -> str:
        return POOL_FAMILIES[self.kind]

    @property
    def swappable(self) -> bool:
        """A pool the swap can change: not a subclass, not one the standard library made."""
        return not self.note.startswith(("created by the standard library", "a subclass"))

    @property
    def asked_workers(self) -> int:
        return self.workers if self.workers else self.default_workers


@dataclass(frozen=True, slots=True)
class StartSeen:
    """A bare threading.Thread or multiprocessing.Process the program started itself."""

    what: str  # thread or process
    file: str | None
    line: int | None
    code: str
    via: str  # the standard-library module that started it for the program, or ""
    count: int


@dataclass(frozen=True, slots=True)
class TaskErrorSeen:
    error: str
    task: str
    file: str | None
    line: int | None
    code: str
    count: int


@dataclass(frozen=True, slots=True)
class SwapReport:
    installed: bool  # the module loaded and rebound the pools
    interpreters: bool  # the interpreter has concurrent.futures.InterpreterPoolExecutor
    python: str
    pools: list[PoolSeen] = field(default_factory=list)
    starts: list[StartSeen] = field(default_factory=list)
    task_errors: list[TaskErrorSeen] = field(default_factory=list)
    read_stdin: bool = False
    started_t: float | None = None  # time.monotonic() in the target just before the script


@dataclass(frozen=True, slots=True)
class TimedRun:
    wall_s: float  # from the script's start to the process's exit
    cpu_s: float  # user + system of the target and the children it waited for
    exit_code: int | None  # None when killed by a signal
    exit_signal: int | None
    timed_out: bool
    stdout_digest: str
    stderr_last: str  # the last non-empty line of standard error
    report: SwapReport
    #: The status the program as written exited with (a linter's 1 when it found something).
    expected_code: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == self.expected_code and not self.timed_out
