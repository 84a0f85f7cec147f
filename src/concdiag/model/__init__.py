"""The profile model: the single, versioned document every renderer reads.

A `Profile` is built once by the analysis from what the collectors recorded, saved as JSON
(`save`/`load`), and every output (terminal summary, HTML, Markdown, CI results) is rendered
from it alone. Field names are a public interface: the JSON Schema in
`concdiag/schema/profile.schema.json` is generated from these classes and published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concdiag.errors import ProfileFormatError
from concdiag.migrations import profile_from_v1
from concdiag.model.codec import from_jsonable, load_typed, to_jsonable
from concdiag.model.deep import DEEP_BEHAVIOURS, DeepFunction, DeepProfile, DeepThread
from concdiag.model.event_loop import EventLoop
from concdiag.model.gil_blame import GilBlame
from concdiag.model.locks import LockReport
from concdiag.model.speedup import ProcessStart
from concdiag.model.states import STATE_KEYS, States
from concdiag.model.tree import ProcessTree, WorkerProcess
from concdiag.model.whatif import WhatIf

SCHEMA_NAME = "concdiag-profile"
#: Version 2 renamed version 1's fields (`migrations`). Fields added since have defaults, so
#: profiles written before them load unchanged (docs/schema.md "Changes").
SCHEMA_VERSION = 2

#: ``deadlock``: the run ended in a deadlock (``Profile.locks.deadlock`` says which).
BOUNDS = ("cpu", "io", "mixed", "sync", "idle", "deadlock")
CPU_KINDS = ("python", "native")
#: ``none``: no model can be judged from this run (it deadlocked: fix that first).
RECOMMENDATIONS = ("threading", "multiprocessing", "serial", "none")
#: The model a program uses now, in the recommendation's words (plus asyncio), so the two
#: compare without a translation table.
CURRENT_MODELS = ("serial", "threading", "multiprocessing", "asyncio")
#: How prose names each model ("runs threads now"); the data holds the words above.
MODEL_NOUNS = {
    "serial": "serial",
    "threading": "threads",
    "multiprocessing": "processes",
    "asyncio": "asyncio",
}


def model_noun(kind: str) -> str:
    """How prose names the current model ``kind``: "runs threads now"."""
    return MODEL_NOUNS.get(kind, kind)


def recommendation_words(recommendation: str) -> str:
    """How one-line outputs state a recommendation: "recommend threading", or for ``none``
    what comes first."""
    if recommendation == "none":
        return "no model until the deadlock is fixed"
    return f"recommend {recommendation}"


JsonScalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class HotFunction:
    """A function (at a line) that the sampler saw at the top of a thread's Python stack."""

    function: str
    file: str
    line: int
    samples: int
    share: float  # of the thread's (or the profile's) samples
    states: dict[str, int]  # samples per state key


@dataclass(frozen=True, slots=True)
class ThreadProfile:
    tid: int  # OS thread id
    name: str
    python: bool  # a Python thread (known to the interpreter) or a native-only thread
    is_main: bool
    first_seen_s: float  # seconds since the run started
    last_seen_s: float
    alive_s: float  # alive time seen by the sampler
    cpu_user_s: float
    cpu_system_s: float
    samples: int
    on_cpu_share: float
    gil_held_share: float | None  # None: no GIL (free-threaded, running without it)
    states: States
    state_seconds: States
    role: str  # worker, coordinator (mostly waits for other threads) or idle
    hot_functions: list[HotFunction] = field(default_factory=list)
    ident: int | None = None  # Python's threading.get_ident()
    #: Samples less the ticks the sampler missed (those are ``unknown``).
    observed_samples: int = 0
    #: Half-width of each share's sampling error bar (about 95%), from the thread's ticks and
    #: the length of its runs in each state (docs/measurement.md "Error bars").
    share_errors: States | None = None
    #: Its error bars are wider than the calibration's 10 points: too few ticks to go by.
    few_samples: bool = False
    #: Share of its alive time runnable but waiting for a CPU (counted in ``unknown``).
    starved_share: float = 0.0
    #: Share of its alive time it held the GIL while waiting for a CPU (pre-empted): GIL held
    #: beyond its CPU clock, by more than the sampling error. Still ``gil_held`` in its states;
    #: left out of the worker time the verdict weighs (see `Summary.worker_seconds`).
    pre_empted_share: float = 0.0
    #: Its own CPU clock (the scheduler's run time, or CPU ticks) over its observed span.
    cpu_clock_share: float | None = None
    #: How far its states disagree with that clock: ``native`` above it, or ``gil_held +
    #: native`` below it (shares of observed time); None when not checked.
    clock_disagreement: float | None = None
    clock_error: float | None = None  # the sampling error that disagreement is judged by
    #: Seconds blocked on a pipe or socket whose other end is another process of the traced
    #: tree (or waiting for a child): the tree coordinating itself, counted as coordination,
    #: not as I/O work (docs/measurement.md "Waits on the process tree").
    ipc_wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class GilStats:
    enabled: bool  # False on a free-threaded build running without the GIL
    measured: bool  # True when the GIL word was read from the target's memory
    utilisation: float | None  # share of samples in which some thread held the GIL
    wait_s: float | None  # thread-seconds spent waiting to take the GIL (None: no GIL)
    mean_waiting_threads: float | None  # wait_s / wall: how many threads queue for it
    switches: int | None  # forced switches counted by the interpreter during the run
    mean_wait_ms: float | None  # wait_s / switches: how long one wait lasts on average
    switch_interval_s: float | None


@dataclass(frozen=True, slots=True)
class ProcessProfile:
    pid: int
    ppid: int | None
    command: list[str]
    is_root: bool  # the process concdiag launched or attached to
    python: bool
    first_seen_s: float
    last_seen_s: float
    alive_s: float  # from first to last seen
    cpu_user_s: float
    cpu_system_s: float
    ctx_switches_voluntary: int
    ctx_switches_involuntary: int
    rss_peak_bytes: int
    gil: GilStats
    threads: list[ThreadProfile]
    #: A child that helps without being a worker, and what it is: ``service`` (it served
    #: the tree's connections and mostly waited: a server the program runs for itself,
    #: standing in for another host), ``forkserver`` or ``resource tracker``
    #: (multiprocessing's machinery); empty for the root and for workers.
    helper: str = ""


@dataclass(frozen=True, slots=True)
class ExitStatus:
    code: int | None  # exit code, None when killed by a signal or still running
    signal: int | None
    status: str  # ok, failed, signal, still_running, unknown
    description: str


@dataclass(frozen=True, slots=True)
class PythonInfo:
    executable: str
    version: str
    implementation: str
    gil_enabled: bool
    free_threaded_build: bool
    switch_interval_s: float | None


@dataclass(frozen=True, slots=True)
class CollectorInfo:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Overhead:
    concdiag_cpu_s: float  # sampler process CPU (concdiag itself and py-spy)
    concdiag_core_share: float  # concdiag_cpu_s / wall: share of one core
    late_samples: int  # ticks that fired more than one interval late
    disturbed: bool  # True when concdiag's own load may have changed what it measured
    note: str
    stack_sampler_cpu_s: float | None = None  # of concdiag_cpu_s: the stack sampler's (py-spy)


@dataclass(frozen=True, slots=True)
class RunInfo:
    mode: str  # launch or attach
    command: list[str]  # as the user gave it, secret-looking arguments masked
    target: str  # script path, module name or pid
    cwd: str
    python: PythonInfo
    cpu_count: int
    platform: str
    concdiag_version: str
    started_at: str  # ISO 8601, UTC
    ended_at: str
    duration_s: float
    rate_hz: float
    sample_count: int
    error_count: int
    exit: ExitStatus
    partial: bool
    partial_reasons: list[str]
    collectors: list[CollectorInfo]
    overhead: Overhead


@dataclass(frozen=True, slots=True)
class ClockCheck:
    """Every thread's states against its own CPU clock: the largest disagreement found."""

    source: str  # "schedstat" (the scheduler's nanosecond clocks) or "stat" (CPU ticks)
    threads_checked: int  # threads with a clock and error bars within the 10-point bound
    largest_disagreement: float  # share of the thread's observed time
    pid: int | None
    tid: int | None
    thread: str | None
    error: float  # that thread's sampling error
    #: Threads disagreeing by more than `warn_share` and their own sampling error.
    threads_over: int
    warn_share: float


@dataclass(frozen=True, slots=True)
class Summary:
    """Figures over the whole run (all processes) that the verdict and renderers quote."""

    wall_s: float
    python_threads: int
    processes: int
    thread_seconds: States  # summed over Python threads
    #: The same, without waits for other workers (coordination), and with GIL-held time spent
    #: pre-empted counted as ``unknown``: the time the verdict weighs.
    worker_seconds: States
    cpu_s: float
    cores_used_mean: float
    cores_used_peak: float
    gil_utilisation: float | None
    gil_wait_share: float | None  # gil_wait / all worker thread time (None: no GIL)
    ctx_switches_per_s: float
    #: Thread-seconds Python threads were runnable but waiting for a CPU (inside ``unknown``).
    starved_s: float = 0.0
    clock_check: ClockCheck | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    """Per-bin series, for charts. Shares are of each bin's width."""

    bin_s: float
    t_s: list[float]
    cores_used: list[float]
    gil_utilisation: list[float | None]
    lanes: list[Lane]


@dataclass(frozen=True, slots=True)
class Lane:
    pid: int
    tid: int
    name: str
    shares: dict[str, list[float]]  # state key -> share of each bin


@dataclass(frozen=True, slots=True)
class Frame:
    function: str
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class StackCount:
    """Aggregated identical stacks of one thread in one state (for flame graphs)."""

    pid: int
    tid: int
    state: str
    frames: list[int]  # indexes into Profile.frames, outermost first
    count: int


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str
    message: str
    figures: dict[str, JsonScalar]


@dataclass(frozen=True, slots=True)
class CodeSite:
    """A line in the target's source that creates a thread, executor, pool or event loop."""

    file: str
    line: int
    kind: str  # thread, thread_pool, process, process_pool, asyncio
    code: str


@dataclass(frozen=True, slots=True)
class CurrentModel:
    kind: str  # one of CURRENT_MODELS
    evidence: str
    sites: list[CodeSite]
    matches: bool | None
    advice: str


@dataclass(frozen=True, slots=True)
class SpeedupPoint:
    workers: int
    threads: float
    processes: float


@dataclass(frozen=True, slots=True)
class Verdict:
    bound: str
    cpu_kind: str | None
    recommendation: str
    confidence: float
    summary: str
    reasons: list[Reason]
    current_model: CurrentModel
    speedup_model: str
    predicted_speedup: list[SpeedupPoint]
    process_start: ProcessStart | None = None  # the start-up charged to processes


@dataclass(frozen=True, slots=True)
class Profile:
    run: RunInfo
    processes: list[ProcessProfile]
    summary: Summary
    timeline: Timeline
    frames: list[Frame]
    stacks: list[StackCount]
    verdict: Verdict
    deep: DeepProfile | None = None
    schema: str = SCHEMA_NAME
    schema_version: int = SCHEMA_VERSION
    tree: ProcessTree | None = None  # the process tree, when the target started children
    whatif: WhatIf | None = None  # measured alternatives (`concdiag whatif`)
    locks: LockReport | None = None  # lock tracking and deadlocks (optional: no version bump)
    gil_blame: GilBlame | None = None  # who held the GIL while others waited (optional)
    event_loop: EventLoop | None = None  # what held up an asyncio event loop (optional)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True, allow_nan=False) + "\n"

    @staticmethod
    def from_dict(data: Any) -> Profile:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
            raise ProfileFormatError("not a concdiag profile (no 'schema': 'concdiag-profile')")
        version = data.get("schema_version")
        if version == 1:
            data = profile_from_v1(data)
        elif version != SCHEMA_VERSION:
            raise ProfileFormatError(
                f"profile schema version {version!r} is not supported (this concdiag reads "
                f"1 and {SCHEMA_VERSION})"
            )
        try:
            profile: Profile = load_typed(Profile, data, "profile")
            return profile
        except (TypeError, ValueError, KeyError) as exc:
            raise ProfileFormatError(f"malformed profile: {exc}") from exc

    @staticmethod
    def load(path: Path) -> Profile:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileFormatError(f"cannot read profile {path}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileFormatError(
                f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})"
            ) from None
        return Profile.from_dict(data)

    def root_process(self) -> ProcessProfile | None:
        return next((p for p in self.processes if p.is_root), None)


__all__ = [
    "DEEP_BEHAVIOURS",
    "STATE_KEYS",
    "DeepFunction",
    "DeepProfile",
    "DeepThread",
    "ProcessTree",
    "States",
    "WhatIf",
    "WorkerProcess",
    "from_jsonable",
    "to_jsonable",
]
