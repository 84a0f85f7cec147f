"""What is known about each thread, from whoever saw it, written once into the recording.

The state sampler sees OS threads; py-spy sees which of them run Python and their names; in
launch mode the bootstrap also reports each Python thread's start, end, name and ident.
`ThreadSightings` gathers all of it as chunks arrive, and `register_threads` turns it into
the recording's `ThreadInfo`s before each chunk is accounted (the classification needs to
know which threads run Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import Chunk, ThreadInfo

Key = tuple[int, int]


@dataclass
class ThreadSightings:
    seen: set[Key] = field(default_factory=set)  # in the state sampler's ticks
    python: set[Key] = field(default_factory=set)  # known to run Python
    names: dict[Key, str] = field(default_factory=dict)  # the best name known so far
    stack_names: dict[int, str] = field(default_factory=dict)  # py-spy's names, by OS id
    idents: dict[Key, int] = field(default_factory=dict)  # threading.get_ident()
    started_s: dict[Key, float] = field(default_factory=dict)
    ended_s: dict[Key, float] = field(default_factory=dict)

    def see(self, chunk: Chunk) -> None:
        for tick in chunk.ticks:
            for obs in tick.threads:
                self.seen.add((tick.pid, obs.tid))
            if tick.gil_locked is not None:
                # its GIL was read at the root's address: a forked child of the interpreter,
                # Python even if it ended before py-spy sampled it
                self.python.add((tick.pid, tick.pid))
        self.python.update(chunk.stacks)


def register_threads(recording: RecordingDraft, sightings: ThreadSightings) -> None:
    """(Re)write ``recording.threads`` from everything seen so far."""
    root_main = (recording.target.pid, recording.target.main_tid)
    python = sightings.python | {root_main}
    for pid, tid in sorted(sightings.seen | python):
        key = (pid, tid)
        is_main = tid == pid
        name = sightings.names.get(key) or sightings.stack_names.get(tid)
        if not name:
            name = "MainThread" if is_main and key in python else f"thread-{tid}"
        recording.threads[key] = ThreadInfo(
            pid=pid,
            tid=tid,
            name=name,
            ident=sightings.idents.get(key),
            # A child's main thread is Python only if py-spy or the bootstrap saw it: a
            # subprocess running `sleep` or `git` is not.
            python=key in python,
            is_main=is_main,
            started_s=sightings.started_s.get(key),
            ended_s=sightings.ended_s.get(key),
        )
