"""The one shape every collector has: start, hand over chunks of ticks, stop, say what it saw.

A mode (launch, attach) drives a collector and passes each chunk to a `ChunkSink`, the
streaming accounting; the mode does not care which collector runs. Two collectors implement
it: `out_of_process.OutOfProcessCollector` (the /proc state sampler and py-spy, from outside) and
`inprocess.InProcessCollector` (a sampler thread inside the target, where tracing is denied).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from concdiag.recording.recording import RecordingDraft, RunSoFar
from concdiag.recording.records import Chunk, CollectorNote

#: Where a mode hands each chunk, with the recording that says how to read it.
ChunkSink = Callable[[RunSoFar, Chunk], None]


class Collector(Protocol):
    """Observes a running target; never interprets what it sees."""

    def start(self) -> None:
        """Begin observing (the target may still be waiting for the go)."""

    def poll(self) -> Chunk | None:
        """A chunk ready to account now, if any (called a few times a second)."""

    def stop(self) -> Chunk:
        """Stop observing; what remains. Safe to call once, after the target ended or not."""

    @property
    def notes(self) -> list[CollectorNote]:
        """What ran and what could not be seen, for the report."""

    @property
    def ticks_done(self) -> int:
        """Ticks sampled so far (progress display)."""

    @property
    def cpu_s(self) -> float:
        """CPU the collector itself used outside concdiag's process (py-spy, the target)."""

    @property
    def finished(self) -> bool:
        """True once the collector has nothing left to observe (every process gone)."""


@dataclass
class Collected:
    """What a mode (launch or attach) hands the session once sampling has ended.

    The ticks went chunk by chunk to the sink; ``recording`` keeps the run's metadata
    (target, threads, counters, notes) and no ticks.
    """

    recording: RecordingDraft
    started_at: datetime
    ended_at: datetime
    notes: list[CollectorNote] = field(default_factory=list)
    partial_reasons: list[str] = field(default_factory=list)
    concdiag_cpu_s: float = 0.0
    stack_sampler_cpu_s: float = 0.0  # of concdiag_cpu_s: py-spy's
    interrupted: bool = False
    stopped_by_duration: bool = False
    deadlock: bool = False  # launch: the lock tracker found a deadlock; the target was ended
    exit_code: int | None = None  # launch: the target's exit status
    exit_signal: int | None = None  # launch: the signal that killed the target
    uncaught: str | None = None  # launch: the exception that ended the script, if one did
    target_exited: bool = False  # attach: the target ended while concdiag sampled it
