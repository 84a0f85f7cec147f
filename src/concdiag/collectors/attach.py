"""Attach mode: sample a Python process that is already running, without touching it.

The interpreter and its GIL are found from outside (`remote_interpreter`); sampling only
reads ``/proc`` and memory, and py-spy runs with ``--nonblocking``, so when concdiag stops,
is killed or loses the target, the target carries on as if nothing happened. The same
`TracingCollector` as launch mode hands ticks and stacks over in chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from concdiag.collectors.protocol import Chunk, ChunkSink, Collected
from concdiag.collectors.pyspy import find_pyspy
from concdiag.collectors.records import Recording, TargetInfo
from concdiag.collectors.remote_interpreter import AttachTarget, find_gil, gil_switched_on
from concdiag.collectors.threads import ThreadSightings, register_threads
from concdiag.collectors.tracing import TracingCollector
from concdiag.errors import CannotProfileError
from concdiag.interrupts import SIGNALS, Interrupted

#: How often the loop checks on the target, the duration and the collector.
POLL_S = 0.05


def attach(
    target: AttachTarget,
    rate_hz: float,
    duration_s: float | None,
    sink: ChunkSink,
    progress: Callable[[float, int], None] | None = None,
    chunk_s: float | None = None,
) -> Collected:
    """Sample until the duration ends, the user interrupts, or the target exits."""
    cpu_at_start = time.process_time()
    gil, why = find_gil(target)
    info = TargetInfo(
        pid=target.pid,
        executable=target.exe,
        version=target.version,
        implementation="cpython",
        gil_enabled=gil_switched_on(target),
        free_threaded_build=target.free_threaded,
        switch_interval_s=(gil.interval_us / 1e6) if gil else None,
        gil_found=gil is not None,
        main_tid=target.pid,
    )
    recording = Recording(rate_hz=rate_hz, target=info)
    if gil is None:
        recording.notes.append(
            f"GIL holder not measured ({why}): CPU is split into Python and native by stacks only"
        )
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    collector = TracingCollector(recording, target.pid, gil, {}, t0, chunk_s=chunk_s)
    collector.start()
    sightings = ThreadSightings()

    def hand_over(chunk: Chunk) -> None:
        sightings.stack_names.update(collector.stack_names)
        sightings.see(chunk)
        register_threads(recording, sightings)  # the accounting needs to know Python threads
        sink(recording, chunk)

    collected = Collected(recording, started_at, started_at)
    try:
        with SIGNALS.sampling():
            while True:
                elapsed = time.monotonic() - t0
                if progress is not None:
                    progress(elapsed, collector.ticks_done)
                if not _alive(target.pid) or collector.finished:
                    collected.target_exited = True
                    collected.partial_reasons.append(
                        f"the target exited {elapsed:.1f} s into sampling; "
                        "the profile covers what ran until then"
                    )
                    break
                if duration_s is not None and elapsed >= duration_s:
                    break
                chunk = collector.poll()
                if chunk is not None:
                    hand_over(chunk)
                time.sleep(POLL_S)
    except Interrupted:
        collected.interrupted = True
        collected.partial_reasons.append(
            f"sampling stopped by {SIGNALS.signal_name or 'an interrupt'} after "
            f"{time.monotonic() - t0:.1f} s; the target was left running"
        )
    collected.ended_at = datetime.now(timezone.utc)
    recording.duration_s = time.monotonic() - t0
    hand_over(collector.stop())
    collected.notes = collector.notes
    collected.concdiag_cpu_s = (time.process_time() - cpu_at_start) + collector.cpu_s
    recording.sampler_cpu_s = collected.concdiag_cpu_s
    return collected


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status[status.rindex(")") + 2] != "Z"


def require_pyspy() -> None:
    if find_pyspy() is None:
        raise CannotProfileError(
            "py-spy is not installed in this environment (pip install py-spy); "
            "attach mode needs it to read Python stacks"
        )
