"""The out-of-process collector: the /proc state sampler and py-spy, handed over in chunks.

py-spy writes its trace only when it stops, and a trace grows with the run; so every
`STACK_CHUNK_S` (or `CHUNK_OBSERVATIONS` thread samples, whichever comes first) a new py-spy
starts, the previous one stops, and the ticks before the handover go with its stacks as one
chunk to the accounting and are dropped. Memory then stays bounded on runs of any length, in
launch and attach mode alike, and what is left to read when the target exits is at most one
chunk: the time from the target's exit to the report does not grow with the run.
"""

from __future__ import annotations

import os
import time

from concdiag.collectors.gil_layout import GilLocation
from concdiag.collectors.procfs import ProcSampler
from concdiag.collectors.protocol import Chunk, CollectorNote, Stacks
from concdiag.collectors.pyspy import PySpyRecorder
from concdiag.collectors.records import Recording, Tick

#: py-spy is restarted this often, so no trace (and no tick list) grows unbounded and the
#: last chunk, read after the target exits, stays short: a 10 s trace of a 3-process pool
#: reads in about a second; each restart costs py-spy about 0.08 s of CPU (measured,
#: docs/performance.md),
STACK_CHUNK_S = 10.0
#: or sooner, once the chunk holds this many thread observations (50 threads at 100 Hz: 10 s).
CHUNK_OBSERVATIONS = 50_000


class TracingCollector:
    """`ProcSampler` for states, py-spy for stacks; implements `protocol.Collector`."""

    def __init__(
        self,
        recording: Recording,
        pid: int,
        gil: GilLocation | None,
        ident_to_tid: dict[int, int],
        t0: float,
        *,
        use_pyspy: bool = True,
        chunk_s: float | None = None,
    ) -> None:
        self.recording = recording
        self.pid = pid
        self.t0 = t0
        self.ident_to_tid = ident_to_tid  # live: the bootstrap's events add to it
        self.use_pyspy = use_pyspy
        if chunk_s is None:
            chunk_s = float(os.environ.get("CONCDIAG_STACK_CHUNK_S", STACK_CHUNK_S))
        self.chunk_s = chunk_s
        self.sampler = ProcSampler(recording, pid, gil, ident_to_tid, t0=t0)
        self.gil = gil
        self.spy: PySpyRecorder | None = None
        self.pyspy_error: str | None = None
        self.stack_names: dict[int, str] = {}
        self._notes: list[CollectorNote] = []
        self._cpu_s = 0.0
        self._rotated_at = t0

    # -- protocol.Collector ----------------------------------------------------------------

    def start(self) -> None:
        self.sampler.start()
        detail = "thread states, blocking calls" + (", GIL holder" if self.gil else "")
        self._notes.append(CollectorNote("procfs", True, detail))
        if not self.use_pyspy:
            return
        if self._start_pyspy():
            self._notes.append(CollectorNote("py-spy", True, "Python stacks of every thread"))
        else:
            self._notes.append(CollectorNote("py-spy", False, self.pyspy_error or "failed"))
            self.recording.notes.append(f"no Python stacks: {self.pyspy_error}")

    def poll(self) -> Chunk | None:
        if self.spy is None:
            return None
        ticks = self.recording.ticks
        volume = len(ticks) * len(ticks[-1].threads) if ticks else 0
        if time.monotonic() - self._rotated_at < self.chunk_s and volume < CHUNK_OBSERVATIONS:
            return None
        previous = self.spy
        if not self._start_pyspy():  # the target may be gone; keep the running one
            self.spy = previous
            self._rotated_at = time.monotonic()
            return None
        handover_s = time.monotonic() - self.t0
        return Chunk(self._take_ticks(handover_s), self._read(previous))

    def stop(self) -> Chunk:
        self.sampler.stop()
        stacks: Stacks = {}
        if self.spy is not None:
            stacks = self._read(self.spy)
            self.spy = None
        return Chunk(self._take_ticks(float("inf")), stacks)

    @property
    def notes(self) -> list[CollectorNote]:
        return list(self._notes)

    @property
    def ticks_done(self) -> int:
        return self.sampler.ticks_done

    @property
    def cpu_s(self) -> float:
        return self._cpu_s

    @property
    def finished(self) -> bool:
        return self.sampler.finished

    # -- helpers ---------------------------------------------------------------------------

    def stop_before_go(self) -> None:
        """Tracing turned out to be denied: stop, and forget what was gathered."""
        self.sampler.stop()
        if self.spy is not None:
            self.spy.stop()
            self.spy = None
        self.recording.ticks.clear()
        self.recording.counters.clear()
        self.recording.thread_cpu.clear()
        self._notes.clear()

    def _start_pyspy(self) -> bool:
        spy = PySpyRecorder(self.pid, self.recording.rate_hz)
        if not spy.start():
            if self.pyspy_error is None:
                self.pyspy_error = spy.error
            return False
        self.spy = spy
        self._rotated_at = time.monotonic()
        return True

    def _read(self, spy: PySpyRecorder) -> Stacks:
        spy.stop()
        self._cpu_s += spy.cpu_s
        # py-spy's trace clock starts when it starts: place it on the run's clock.
        stacks = spy.read_stacks(spy.started_monotonic - self.t0, self.ident_to_tid)
        if spy.error:
            self.recording.notes.append(spy.error)
        self.stack_names.update(spy.thread_names)
        return stacks

    def _take_ticks(self, until_s: float) -> list[Tick]:
        """Ticks before ``until_s``, removed from the recording; later ones stay."""
        pending = self.recording.ticks
        self.recording.ticks = []
        if until_s != float("inf"):
            # let an append already under way land in ``pending``
            time.sleep(2.0 / self.recording.rate_hz)
        pending.sort(key=lambda tick: tick.t_s)
        cut = next((i for i, tick in enumerate(pending) if tick.t_s >= until_s), len(pending))
        if cut < len(pending):
            self.recording.ticks[:0] = pending[cut:]
        return pending[:cut]
