"""Attach mode: sample a Python process that is already running, without touching it.

The interpreter and its GIL are found from outside (`remote_interpreter`); sampling only
reads ``/proc`` and memory, and py-spy runs with ``--nonblocking``, so when concdiag stops,
is killed or loses the target, the target carries on as if nothing happened. The same
`OutOfProcessCollector` as launch mode hands ticks and stacks over in chunks.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from concdiag.collectors.out_of_process import OutOfProcessCollector
from concdiag.collectors.protocol import ChunkSink, Collected
from concdiag.collectors.pyspy import find_pyspy
from concdiag.collectors.remote_interpreter import (
    AttachTarget,
    gil_switch_watch,
    gil_switched_on,
    locate_gil,
)
from concdiag.collectors.runtime_reader import GilSwitchWatch
from concdiag.collectors.threads import ThreadSightings, register_threads
from concdiag.errors import CannotProfileError
from concdiag.interrupts import SIGNALS, Interrupted
from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import Chunk, TargetInfo

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
    gil, why = locate_gil(target)
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
    recording = RecordingDraft(rate_hz=rate_hz, target=info)
    if gil is None:
        recording.notes.append(
            f"GIL holder not measured ({why}): CPU is split into Python and native by stacks only"
        )
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    collector = OutOfProcessCollector(recording, target.pid, gil, {}, t0, chunk_s=chunk_s)
    collector.start()
    sightings = ThreadSightings()

    def hand_over(chunk: Chunk) -> None:
        sightings.stack_names.update(collector.stack_names)
        sightings.see(chunk)
        register_threads(recording, sightings)  # the accounting needs to know Python threads
        sink(recording, chunk)

    collected = Collected(recording, started_at, started_at)
    watch = gil_switch_watch(target, info.gil_enabled)
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
                if watch is not None:
                    note_gil_switch(watch, elapsed, recording)
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
    if watch is not None:
        watch.close()
    collected.ended_at = datetime.now(timezone.utc)
    recording.duration_s = time.monotonic() - t0
    hand_over(collector.stop())
    collected.notes = collector.notes
    collected.concdiag_cpu_s = (time.process_time() - cpu_at_start) + collector.cpu_s
    collected.stack_sampler_cpu_s = collector.cpu_s
    recording.sampler_cpu_s = collected.concdiag_cpu_s
    return collected


def note_gil_switch(watch: GilSwitchWatch, elapsed_s: float, recording: RecordingDraft) -> None:
    """Re-read the GIL switch (at most once a second); note when it changed, and read the GIL
    as on any build from then on once it is back on, as launch mode does."""
    enabled = watch.poll(elapsed_s)
    if enabled is None:
        return
    recording.notes.append(
        f"the GIL was turned {'back on' if enabled else 'off'} {elapsed_s:.1f} s into sampling "
        "(a free-threaded build; an extension without free-threading support turns it on)"
    )
    if enabled and not recording.target.gil_enabled:
        recording.target = dataclasses.replace(recording.target, gil_enabled=True)


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
