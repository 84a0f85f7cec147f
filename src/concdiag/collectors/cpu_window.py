"""Cumulative counters made to cover the sampled window only.

The kernel counts a process's or thread's CPU time and context switches from its start.
`attach` joins processes that may have run for hours, so a process or thread already running
at the sampler's first pass has what it had used by then subtracted; one that starts later
counts whole (its counters start at zero). Launch mode follows the same rule: its first pass
comes just before the target's own code runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

from concdiag.recording.records import ProcessCounters


class CounterWindow:
    """Per process or thread: its counters at the first pass, subtracted from later readings."""

    def __init__(self) -> None:
        self.first_pass = True  # the sampler clears it once its first pass is done
        self._before: dict[Hashable, tuple[float, ...]] = {}

    def note(self, key: Hashable, *values: float) -> None:
        """Keep ``values`` as ``key``'s starting point if this is the first pass."""
        if self.first_pass:
            self._before.setdefault(key, values)

    def since_start(self, key: Hashable, *values: float) -> tuple[float, ...]:
        """``values`` (cumulative) less what they were at the first pass, if ``key`` was there."""
        self.note(key, *values)
        before = self._before.get(key)
        if before is None:
            return values
        return tuple(value - was for value, was in zip(values, before))


def counters_to(
    last: tuple[ProcessCounters, float, float], stat: tuple[int, int], hz: int, t_s: float
) -> ProcessCounters | None:
    """``last`` (counters, with the raw user and system CPU read for them) moved on to the
    CPU ticks of a later stat read; None when the CPU did not move."""
    counters, user_read, system_read = last
    user = max(0.0, stat[0] / hz - user_read)
    system = max(0.0, stat[1] / hz - system_read)
    if not (user or system):
        return None
    return dataclasses.replace(
        counters,
        t_s=t_s,
        cpu_user_s=counters.cpu_user_s + user,
        cpu_system_s=counters.cpu_system_s + system,
    )
