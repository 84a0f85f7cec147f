"""The six states a thread's alive time is split into, and a value per state."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

#: The states a thread's alive time is split into. Stable names: CI users read them.
STATE_KEYS: tuple[str, ...] = ("gil_held", "gil_wait", "native", "io", "sync", "unknown")
#: The states only an interpreter running with a GIL has: absent (null) on a free-threaded
#: build running without it, where no thread holds or waits for a GIL.
GIL_KEYS: tuple[str, ...] = ("gil_held", "gil_wait")


@dataclass(frozen=True, slots=True)
class States:
    """One value per thread state; shares sum to 1, seconds sum to the alive time.

    ``gil_held`` and ``gil_wait`` are None when the run had no GIL (`without_gil`): a reader
    says "no GIL" rather than 0%. `get` reads them as 0 so sums need no special case.
    """

    gil_held: float | None = 0.0
    gil_wait: float | None = 0.0
    native: float = 0.0
    io: float = 0.0
    sync: float = 0.0
    unknown: float = 0.0

    def get(self, key: str) -> float:
        value = getattr(self, key)
        return 0.0 if value is None else float(value)

    @property
    def has_gil(self) -> bool:
        return self.gil_held is not None or self.gil_wait is not None

    def state_keys(self) -> tuple[str, ...]:
        """The states this value has: all six, or those without the GIL's."""
        return STATE_KEYS if self.has_gil else tuple(k for k in STATE_KEYS if k not in GIL_KEYS)

    def total(self) -> float:
        return sum(self.get(k) for k in STATE_KEYS)

    def scaled(self, factor: float) -> States:
        return self._keep_gil(States(**{k: self.get(k) * factor for k in STATE_KEYS}), self)

    def plus(self, other: States) -> States:
        summed = States(**{k: self.get(k) + other.get(k) for k in STATE_KEYS})
        return summed if self.has_gil or other.has_gil else summed.without_gil()

    def without_gil(self) -> States:
        return dataclasses.replace(self, gil_held=None, gil_wait=None)

    @staticmethod
    def _keep_gil(value: States, like: States) -> States:
        return value if like.has_gil else value.without_gil()

    @staticmethod
    def from_counts(counts: Mapping[str, float]) -> States:
        return States(**{k: float(counts.get(k, 0.0)) for k in STATE_KEYS})
