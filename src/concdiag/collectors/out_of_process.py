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
from concdiag.collectors.pyspy import PySpyRecorder
from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import Chunk, CollectorNote, Stacks, Tick

#: py-spy is restarted this often, so no trace (and no tick list) grows unbounded and the
#: last chunk, read after the target exits, stays short: a 10 s trace of a 3-process pool
#: reads in about a second; each restart costs py-spy about 0.08 s of CPU (measured,
#: docs/performance.md),
STACK_CHUNK_S = 10.0
#: or sooner, once the chunk holds this many thread observations (50 threads at 100 Hz: 10 s).
CHUNK_OBSERVATIONS = 50_000
#: py-spy's share of one core that its sampling rate is held to. Its cost grows with the
#: processes and threads it reads (0.2% of a core per Hz on a 3-process pool, 21% at 100 Hz:
#: docs/performance.md "concdiag's own CPU on a process tree"), so stacks are sampled at the rate
#: this budget allows, at most the state sampler's: states stay at the full rate, stacks
#: are joined to them by time (each tick takes the stack in force).
STACK_CPU_BUDGET = 0.04
#: The part of py-spy's cost that does not depend on its rate, with ``--subprocesses``: a fit
#: to its measured share on a 3-process pool at 5, 15, 20, 50 and 100 Hz (2.6%, 4.3%, 6.0%,
#: 11.7%, 21.6% of a core: ~1.7% + 0.2% per Hz).
PYSPY_FIXED_SHARE = 0.017
#: At a lower stack rate a turn lasts longer, so each holds about as many stack samples as a
#: full-rate turn of `STACK_CHUNK_S` (py-spy's start-up, ~0.1 s of CPU on a 3-process tree,
#: is paid less often), up to this long: the ticks of the last turn are accounted after the
#: target exits, ~15 ms per second of a 3-process run here (docs/performance.md).
MAX_STACK_CHUNK_S = 30.0
#: Stacks are never sampled slower than this (the budget gives way).
MIN_STACK_RATE_HZ = 5.0
#: A turn is cut short, to restart py-spy at a lower rate, once its py-spy has run this long
#: at over `OVER_BUDGET` times the budget (a pool started mid-turn multiplies its cost).
EARLY_CHECK_S = 1.0
OVER_BUDGET = 2.0


class OutOfProcessCollector:
    """`ProcSampler` for states, py-spy for stacks; implements `protocol.Collector`."""

    def __init__(
        self,
        recording: RecordingDraft,
        pid: int,
        gil: GilLocation | None,
        ident_to_tid: dict[int, int],
        t0: float,
        *,
        chunk_s: float | None = None,
    ) -> None:
        self.recording = recording
        self.pid = pid
        self.t0 = t0
        self.ident_to_tid = ident_to_tid  # live: the bootstrap's events add to it
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
        self.stack_rate_hz = recording.rate_hz
        self.stack_rates: list[float] = []

    # -- protocol.Collector ----------------------------------------------------------------

    def start(self) -> None:
        self.sampler.start()
        detail = "thread states, blocking calls" + (", GIL holder" if self.gil else "")
        self._notes.append(CollectorNote("procfs", True, detail))
        if self._start_pyspy():
            self._notes.append(CollectorNote("py-spy", True, self.stack_rate_detail))
        else:
            self._notes.append(CollectorNote("py-spy", False, self.pyspy_error or "failed"))
            self.recording.notes.append(f"no Python stacks: {self.pyspy_error}")

    def poll(self) -> Chunk | None:
        if self.spy is None:
            return None
        ticks = self.sampler.ticks
        volume = len(ticks) * len(ticks[-1].threads) if ticks else 0
        age = time.monotonic() - self._rotated_at
        if age < self._turn_s() and volume < CHUNK_OBSERVATIONS and not self._over_budget(age):
            return None
        previous = self.spy
        self._next_rate(previous.sampling_cpu(), age)
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
        return [
            CollectorNote(n.name, n.ok, self.stack_rate_detail)
            if n.name == "py-spy" and n.ok
            else n
            for n in self._notes
        ]

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
        self.sampler.ticks.clear()
        self.recording.counters.clear()
        self.recording.thread_cpu.clear()
        self._notes.clear()

    def _turn_s(self) -> float:
        """This turn's length: `chunk_s` at the full rate, longer at a lower stack rate."""
        stretch = self.recording.rate_hz / max(self.stack_rate_hz, MIN_STACK_RATE_HZ)
        return min(max(self.chunk_s, MAX_STACK_CHUNK_S), self.chunk_s * stretch)

    def _over_budget(self, age_s: float) -> bool:
        """py-spy has cost over `OVER_BUDGET` times its budget for `EARLY_CHECK_S` or more."""
        if self.spy is None or age_s < EARLY_CHECK_S or self.stack_rate_hz <= MIN_STACK_RATE_HZ:
            return False
        share = self.spy.sampling_cpu() / age_s
        return share > OVER_BUDGET * STACK_CPU_BUDGET

    def _next_rate(self, cpu_s: float, ran_s: float) -> None:
        """The next turn's stack rate, from what this turn's py-spy cost per second.

        py-spy's cost is a part that does not depend on the rate (`PYSPY_FIXED_SHARE`) plus a
        part per sample; the rate
        is set so that the two fit the budget, at most doubling per turn, between the floor
        and the state rate."""
        if ran_s <= 0.5 or cpu_s <= 0:
            return
        share = cpu_s / ran_s
        fixed = PYSPY_FIXED_SHARE if share > 2 * PYSPY_FIXED_SHARE else 0.0
        per_hz = (share - fixed) / self.stack_rate_hz
        wanted = (STACK_CPU_BUDGET - fixed) / per_hz
        wanted = min(wanted, 2 * self.stack_rate_hz, self.recording.rate_hz)
        self.stack_rate_hz = max(MIN_STACK_RATE_HZ, round(wanted))

    @property
    def stack_rate_detail(self) -> str:
        """The stack rates used, for the report's collectors list."""
        rates = self.stack_rates or [self.stack_rate_hz]
        low, high = min(rates), max(rates)
        span = f"{low:.0f} Hz" if low == high else f"{low:.0f}-{high:.0f} Hz"
        return (
            f"Python stacks of every thread, at {span} (py-spy held to "
            f"{STACK_CPU_BUDGET:.0%} of a core; states at {self.recording.rate_hz:.0f} Hz)"
        )

    def _start_pyspy(self) -> bool:
        spy = PySpyRecorder(self.pid, self.stack_rate_hz)
        if not spy.start():
            if self.pyspy_error is None:
                self.pyspy_error = spy.error
            return False
        self.spy = spy
        self._rotated_at = time.monotonic()
        self.stack_rates.append(self.stack_rate_hz)
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
        """Ticks before ``until_s``, taken from the sampler; later ones stay."""
        pending = self.sampler.ticks
        self.sampler.ticks = []
        if until_s != float("inf"):
            # let an append already under way land in ``pending``
            time.sleep(2.0 / self.recording.rate_hz)
        pending.sort(key=lambda tick: tick.t_s)
        cut = next((i for i, tick in enumerate(pending) if tick.t_s >= until_s), len(pending))
        if cut < len(pending):
            self.sampler.ticks[:0] = pending[cut:]
        return pending[:cut]
