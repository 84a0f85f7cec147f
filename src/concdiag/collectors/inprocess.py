"""Reads what the in-process collector (``agent/inprocess/sampler.py``, inside the target) wrote.

Each line is decoded into a named record (``agent/inprocess/wire.py``); the records become the same
`RecordingDraft` the out-of-process samplers fill, so the analysis and every renderer work
unchanged; only the collectors list says which one ran.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from concdiag.agent.inprocess.wire import (
    CountersRecord,
    ProbeRecord,
    SamplerCostRecord,
    StackRecord,
    ThreadCpuRecord,
    TickRecord,
    decode,
)
from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import (
    Chunk,
    CollectorNote,
    ProcessCounters,
    StackChange,
    ThreadCpu,
    ThreadObservation,
    Tick,
)

#: A thread that used less than this share of the time since the last tick was not busy.
BUSY_SHARE = 0.1
#: During snapshots a thread running only native code keeps this share (or more) of its usual
#: CPU rate: the collector occupies a core and other processes compete for the rest. Measured
#: 0.3 to 0.6 for sample_targets/native_threads.py on a loaded 2-core machine, against 0.00 to
#: 0.05 for pure-Python threads; a thread at this rate (set low, for margin) counts as native.
NATIVE_RATE = 0.2
#: A thread's CPU during one snapshot below this share of it is noise, not native code.
#: Readings are bimodal (300 us snapshots): native threads
#: (sample_targets/native_threads.py, 6 runs, 2,959 busy readings) read 0.7-1.0 when on a CPU
#: and 0 when not, with 1.3% between 0.15 and 0.5; pure-Python threads
#: (sample_targets/cpu_threads.py, 10 runs on a machine loaded with three busy loops) read at
#: most 0.09. 0.5 sits in the gap; at 0.15, just above the pure-Python readings, a single
#: stray reading above it can give a pure-Python thread 12% "native" CPU and turn
#: cpu_threads' verdict to `threading`.
SNAPSHOT_NOISE_SHARE = 0.5
#: Weight of the all-threads ratio in each thread's estimate, as snapshot CPU (10 ms).
PRIOR_NS = 10e6

#: What the report says this collector cannot see.
LIMITS = (
    "in-process collector (tracing not available): samples from a thread inside the target; "
    "it cannot see spawned or exec'd child processes or native threads' stacks, and its own "
    "stack walks hold the GIL (counted in concdiag's overhead)"
)


def read_inprocess(
    path: Path, recording: RecordingDraft, t0: float
) -> tuple[Chunk, dict[int, str]]:
    """The file's ticks and stacks as one chunk, and thread names by OS id; the run's
    counters, threads' CPU, the sampler's cost and notes go into ``recording``."""
    names: dict[int, str] = {}
    stack_records: list[StackRecord] = []
    tick_records: list[TickRecord] = []
    probes: list[ProbeRecord] = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        recording.notes.append("the in-process collector wrote nothing")
        return Chunk([]), names
    for line in lines:
        record = decode(line)  # None for a line cut short by a killed target
        if isinstance(record, TickRecord):
            tick_records.append(record)
        elif isinstance(record, StackRecord):
            stack_records.append(record)
        elif isinstance(record, CountersRecord):
            recording.counters.append(
                ProcessCounters(
                    record.t_s - t0,
                    record.pid,
                    record.ppid,
                    record.cpu_user_s,
                    record.cpu_system_s,
                    record.ctx_voluntary,
                    record.ctx_involuntary,
                    record.rss_bytes,
                    record.num_threads,
                )
            )
            recording.commands.setdefault(record.pid, [])
        elif isinstance(record, ThreadCpuRecord):
            cpu = ThreadCpu(record.pid, record.tid, record.user_s, record.system_s)
            recording.thread_cpu[(record.pid, record.tid)] = cpu
            names[record.tid] = str(record.name)
        elif isinstance(record, SamplerCostRecord):
            recording.sampler_cpu_s += float(record.cpu_s)
        elif isinstance(record, ProbeRecord):
            probes.append(record)
    chunk = _regrid(split_python_native(tick_records), stack_records, recording, t0)
    count = sum(probe.probes for probe in probes)
    if count:
        mean_ms = sum(probe.late_sum_ms for probe in probes) / count
        p95_ms = max(probe.late_p95_ms for probe in probes)
        recording.notes.append(
            f"GIL latency probe: a 2 ms sleep woke {mean_ms:.2f} ms late on average "
            f"(95th percentile up to {p95_ms:.2f} ms) over {count} probes"
        )
    return chunk, names


def _regrid(
    ticks: list[Tick],
    stack_records: list[StackRecord],
    recording: RecordingDraft,
    t0: float,
) -> Chunk:
    """Each process's ticks on an even grid at the rate the sampler achieved.

    The sampler needs the GIL to wake up, so under GIL contention its ticks come late; each
    snapshot still stands for an equal share of the time, so the run's rate becomes the
    achieved one and ticks are evenly spaced (stack changes move with their tick).
    """
    by_pid: dict[int, list[Tick]] = {}
    for tick in sorted(ticks, key=lambda tick: tick.t_s):
        by_pid.setdefault(tick.pid, []).append(tick)
    root = by_pid.get(recording.target.pid) or next(iter(by_pid.values()), [])
    if len(root) >= 2:
        achieved_hz = (len(root) - 1) / max(root[-1].t_s - root[0].t_s, 1e-9)
        if achieved_hz < recording.rate_hz * 0.95:
            recording.notes.append(
                f"the in-process sampler achieved {achieved_hz:.0f} Hz of the "
                f"{recording.rate_hz:g} Hz asked (it waits for the GIL to wake up)"
            )
            recording.rate_hz = min(recording.rate_hz, achieved_hz)
    interval = 1.0 / recording.rate_hz
    moved: dict[tuple[int, float], float] = {}
    regridded: list[Tick] = []
    for pid, series in by_pid.items():
        first = series[0].t_s - t0
        for i, tick in enumerate(series):
            t_s = first + i * interval
            moved[(pid, tick.t_s)] = t_s
            regridded.append(
                Tick(
                    t_s,
                    tick.pid,
                    tick.gil_locked,
                    tick.gil_holder_tid,
                    tick.gil_switches,
                    tick.process_cpu_ticks,
                    tick.threads,
                )
            )
    regridded.sort(key=lambda tick: tick.t_s)
    stacks: dict[tuple[int, int], list[StackChange]] = {}
    for stack in stack_records:
        t_s = moved.get((stack.pid, stack.t_s), stack.t_s - t0)
        change = StackChange(t_s, tuple(stack.frames))
        stacks.setdefault((stack.pid, stack.tid), []).append(change)
    return Chunk(regridded, stacks)


def split_python_native(tick_records: list[TickRecord]) -> list[Tick]:
    """Turn the collector's snapshots into ticks with a GIL holder, weighing CPU clocks.

    Each snapshot is taken while the collector holds the GIL. A thread running native code
    keeps using CPU during snapshots in proportion to how busy it is overall; a thread running
    Python uses none (it waits for the GIL). So per thread, over the whole run,
    ``native_share = (CPU during snapshots / snapshot time) / (CPU / elapsed time)``. Each busy
    moment of the thread is then native or Python in that proportion (deterministically,
    by accumulating the share); of the Python ones at a tick, the busiest is the GIL's holder
    (the collector took the GIL from it) and the others wait for it. Runnable threads that
    were not busy are queueing for the GIL if they mostly run Python, else for a CPU.
    """
    native_share = _native_shares(tick_records)
    credit: dict[tuple[int, int], float] = defaultdict(float)
    ticks = []
    for record in tick_records:
        holder, native_busy = _busy_threads(record, native_share, credit)
        obs = _observations(record, holder, native_busy, native_share)
        locked = (holder is not None) if record.window.gil_known else None
        ticks.append(
            Tick(record.t_s, record.pid, locked, holder, None, record.process_cpu_ticks, obs)
        )
    return ticks


def _native_shares(tick_records: list[TickRecord]) -> dict[tuple[int, int], float]:
    """Each thread's share of busy moments spent in native code, over the whole run."""
    during: dict[tuple[int, int], float] = defaultdict(float)
    window: dict[tuple[int, int], float] = defaultdict(float)
    ran: dict[tuple[int, int], float] = defaultdict(float)
    elapsed: dict[tuple[int, int], float] = defaultdict(float)
    for record in tick_records:
        snapshot = record.window
        for sample in record.observations:
            since_ns, during_ns = sample.cpu_since_tick_ns, sample.cpu_in_snapshot_ns
            if since_ns is None or during_ns is None or not snapshot.elapsed_ns:
                continue
            key = (record.pid, sample.tid)
            ran[key] += max(0, since_ns)
            elapsed[key] += snapshot.elapsed_ns
            if snapshot.gil_kept:
                if during_ns >= SNAPSHOT_NOISE_SHARE * snapshot.snapshot_ns:
                    during[key] += during_ns
                window[key] += snapshot.snapshot_ns
    # CPU each thread would have used during snapshots were it running only native code,
    # against what it used. Thread CPU clocks tick coarsely (a few ms), so a thread's own
    # count is small and noisy; it is shrunk toward the ratio over all threads.
    expected = {
        key: (ran_ns / elapsed[key]) * window[key] * NATIVE_RATE if elapsed[key] else 0.0
        for key, ran_ns in ran.items()
    }
    total_expected = sum(expected.values())
    pooled = sum(during.values()) / total_expected if total_expected > 0 else 0.0
    native_share: dict[tuple[int, int], float] = {}
    for key in ran:
        if expected[key] <= 0:
            native_share[key] = 0.0
            continue
        ratio = (during[key] + PRIOR_NS * pooled) / (expected[key] + PRIOR_NS)
        native_share[key] = min(1.0, ratio)
    return native_share


def _busy_threads(
    record: TickRecord,
    native_share: dict[tuple[int, int], float],
    credit: dict[tuple[int, int], float],
) -> tuple[int | None, set[int]]:
    """The GIL's holder at this tick (the busiest thread running Python), and the threads
    busy in native code; ``credit`` carries each thread's native share from tick to tick."""
    pid, elapsed_ns = record.pid, record.window.elapsed_ns
    python_busy: list[tuple[int, int]] = []  # (CPU since the last tick, tid)
    native_busy = set()
    for sample in record.observations:
        since_ns = sample.cpu_since_tick_ns
        if since_ns is None or not elapsed_ns or since_ns <= BUSY_SHARE * elapsed_ns:
            continue
        if sample.proc_state != "R" and not sample.futex_on_gil:
            continue  # blocked elsewhere now (I/O, a lock): its busy moment has passed
        key = (pid, sample.tid)
        credit[key] += native_share.get(key, 0.0)
        if credit[key] >= 0.5:
            credit[key] -= 1.0
            native_busy.add(sample.tid)
        else:
            python_busy.append((since_ns, sample.tid))
    holder = max(python_busy)[1] if python_busy else None
    return holder, native_busy


def _observations(
    record: TickRecord,
    holder: int | None,
    native_busy: set[int],
    native_share: dict[tuple[int, int], float],
) -> tuple[ThreadObservation, ...]:
    """Each thread's state at this tick, with the GIL's holder and native threads running."""
    obs = []
    for sample in record.observations:
        tid, state, syscall, on_gil = (
            sample.tid,
            sample.proc_state,
            sample.syscall,
            sample.futex_on_gil,
        )
        if tid == holder or tid in native_busy:
            state, syscall, on_gil = "R", None, False
        elif sample.cpu_since_tick_ns is not None and (
            on_gil or (state == "R" and native_share.get((record.pid, tid), 0.0) < 0.5)
        ):
            # Parked on the GIL, or runnable in a thread that mostly runs Python: waiting
            # for the GIL. A runnable thread that mostly runs native code stays native.
            state, syscall, on_gil = "S", None, True
        obs.append(ThreadObservation(tid, state, syscall, on_gil, sample.cpu_ticks))
    return tuple(obs)


class InProcessCollector:
    """The in-process sampler (inside the target) as a `protocol.Collector`.

    Its estimate of which threads run native code weighs each thread's CPU over the whole
    run, and its ticks are put on the rate it achieved, so it hands over one chunk, at the end.
    """

    def __init__(self, recording: RecordingDraft, path: Path, t0: float) -> None:
        self.recording = recording
        self.path = path
        self.t0 = t0
        self.names: dict[int, str] = {}

    def start(self) -> None:
        """Nothing to start here: the target starts its sampler when told to go."""

    def poll(self) -> Chunk | None:
        return None

    def stop(self) -> Chunk:
        chunk, self.names = read_inprocess(self.path, self.recording, self.t0)
        return chunk

    @property
    def notes(self) -> list[CollectorNote]:
        return [CollectorNote("inprocess", True, LIMITS)]

    @property
    def ticks_done(self) -> int:
        return 0

    @property
    def cpu_s(self) -> float:
        return self.recording.sampler_cpu_s  # the in-process sampler's own CPU, in the target

    @property
    def finished(self) -> bool:
        return False
