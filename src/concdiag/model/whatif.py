"""The profile's measured alternatives (``concdiag whatif``): the top-level ``whatif`` part.

`concdiag whatif` runs the program as written and with its pools swapped (threads for
processes and back, and other numbers of workers), times each, and stores here what it
measured next to what the verdict predicted. Optional: profiles without it load unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Whether the alternatives were measured, and if not, why not.
WHATIF_STATUSES = ("measured", "skipped", "nothing_to_swap", "interrupted")
#: What the measurement says of the verdict's recommendation.
WHATIF_OUTCOMES = ("confirmed", "refuted", "inconclusive", "not_measured")
#: The kinds an alternative can make the program's pools: as written, or all of one kind
#: (serial: an executor's tasks run inline, in the thread that submits them).
SWAP_KINDS = ("as_written", "serial", "threads", "processes", "interpreters")
#: How one alternative's runs went.
ALTERNATIVE_STATUSES = ("ok", "failed", "timed_out", "output_differs", "not_run")
#: The models an alternative stands for, in the recommendation's words (plus the interpreter
#: pool of Python 3.14, and "mixed" for a program that runs both kinds of pool).
WHATIF_MODELS = ("serial", "threading", "multiprocessing", "interpreters", "mixed")


@dataclass(frozen=True, slots=True)
class SwapSite:
    """A line that created a pool (and what it became), or started what cannot be swapped."""

    what: str  # thread_pool_executor, process_pool_executor, thread_pool, process_pool,
    #            thread (bare threading.Thread), process (bare Process), native_threads
    file: str | None
    line: int | None
    code: str
    count: int  # times this line did it (in the first run)
    workers: int | None  # workers the program asked for (None: the pool's default)
    swappable: bool
    note: str  # why it cannot be swapped, what was not carried over, or ""


@dataclass(frozen=True, slots=True)
class Timing:
    """Repeated runs of one alternative: median, range, and the spread used as its margin."""

    median_s: float
    low_s: float
    high_s: float
    margin_s: float  # half the range over the runs: differences inside it are noise
    runs_s: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Alternative:
    """The program run with its pools as written or swapped, timed ``repeat`` times."""

    label: str  # "processes, 2 workers"
    kind: str  # one of SWAP_KINDS
    workers: int | None  # every swapped pool's workers; None: as each pool asked
    model: str  # one of WHATIF_MODELS: what this alternative stands for
    as_written: bool  # the program exactly as written (the reference for speedups)
    status: str  # one of ALTERNATIVE_STATUSES
    note: str
    wall: Timing | None
    cpu: Timing | None  # CPU seconds of the whole process tree (user + system)
    cores_used: float | None  # median CPU over median wall: the cores the machine gave it
    speedup: float | None  # as-written median wall / this median wall
    speedup_low: float | None  # the same with both spreads against it ...
    speedup_high: float | None  # ... and for it
    predicted_speedup: float | None  # from verdict.predicted_speedup, against as written
    #: agrees (within the measured range), optimistic (predicted more), pessimistic (less),
    #: none (no prediction), unmeasured (no timing to compare with)
    prediction: str


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """A task that failed under an alternative, with the line that submitted it."""

    alternative: str  # the alternative's label
    error: str  # "AttributeError: Can't pickle local object 'main.<locals>.<lambda>'"
    task: str  # the function submitted
    file: str | None
    line: int | None
    code: str
    count: int


@dataclass(frozen=True, slots=True)
class ScalingPoint:
    """A speedup over the serial run at a number of workers, with its range."""

    workers: int
    speedup: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class ScalingCurve:
    """One pool kind's measured speedups over the serial run, fitted and carried past the
    machine's cores (labelled a prediction: nothing beyond the cores was measured)."""

    family: str  # threads or processes
    model: str  # threading or multiprocessing
    measured: list[ScalingPoint]
    #: Amdahl's law, S(N) = 1 / (s + (1 - s) / N), fitted to the measured points: the serial
    #: share s, and the range the runs' spread allows.
    serial_share: float
    serial_share_low: float
    serial_share_high: float
    #: The Universal Scalability Law, S(N) = N / (1 + sigma (N - 1) + kappa N (N - 1)): its
    #: contention and coherence terms. kappa is None when two worker counts cannot tell it.
    usl_sigma: float
    usl_kappa: float | None
    #: Beyond the measured workers: the USL fit's speedup, and the band the runs' spread
    #: allows its contention term (the coherence term held at its fit, or 0).
    predicted: list[ScalingPoint]
    note: str


@dataclass(frozen=True, slots=True)
class WhatIf:
    status: str  # one of WHATIF_STATUSES
    note: str  # why not measured, or what limits the measurement
    method: str  # how the alternatives were run and timed
    repeat: int
    sites: list[SwapSite]
    alternatives: list[Alternative]
    failures: list[TaskFailure]
    outcome: str  # one of WHATIF_OUTCOMES
    measured_recommendation: str | None  # the model measured fastest, when it beat the verdict
    message: str  # one sentence: does the measurement confirm the prediction
    cpu_count: int = 0  # the machine's cores
    #: The 1-minute load average when the reruns started and when they ended: other programs
    #: competing for the cores change what an alternative can gain.
    load_average: list[float] = field(default_factory=list)
    #: Each pool kind's speedup by workers, measured and fitted (`scaling`).
    scaling: list[ScalingCurve] = field(default_factory=list)
