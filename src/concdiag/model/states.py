"""The six states a thread's alive time is split into, and a value per state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: The states a thread's alive time is split into. Stable names: CI users read them.
STATE_KEYS: tuple[str, ...] = ("gil_held", "gil_wait", "native", "io", "sync", "unknown")


@dataclass(frozen=True, slots=True)
class States:
    """One value per thread state; shares sum to 1, seconds sum to the alive time."""

    gil_held: float = 0.0
    gil_wait: float = 0.0
    native: float = 0.0
    io: float = 0.0
    sync: float = 0.0
    unknown: float = 0.0

    def get(self, key: str) -> float:
        return float(getattr(self, key))

    def total(self) -> float:
        return sum(self.get(k) for k in STATE_KEYS)

    def scaled(self, factor: float) -> States:
        return States(**{k: self.get(k) * factor for k in STATE_KEYS})

    def plus(self, other: States) -> States:
        return States(**{k: self.get(k) + other.get(k) for k in STATE_KEYS})

    @staticmethod
    def from_counts(counts: Mapping[str, float]) -> States:
        return States(**{k: float(counts.get(k, 0.0)) for k in STATE_KEYS})
