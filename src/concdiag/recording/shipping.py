"""What a thread pool's tasks would cost to ship to worker processes, estimated in the target.

``agent/pools/shipping.py`` estimates, for the first tasks of each thread pool, the pickled
size of a task's arguments and result and the CPU to pickle and unpickle each; it counts every
task. One `PoolShipping` per pool is what the analysis reads.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

#: bytes, seconds to pickle, seconds to unpickle
Estimate = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class PoolShipping:
    """One thread pool's tasks: how many ran, and estimates of what pickling them costs."""

    pool: int
    #: The line of the program that submitted the tasks (``file:line``) and its text.
    site: str = ""
    code: str = ""
    #: Tasks submitted; ``counted`` is False when the count at exit never came (the run was
    #: cut short), and ``tasks`` is then at least the estimated ones.
    tasks: int = 0
    counted: bool = False
    arguments: tuple[Estimate, ...] = ()
    results: tuple[Estimate, ...] = ()
    #: Why pickling a task's function, arguments or result failed (processes could not run
    #: the task as written).
    errors: tuple[str, ...] = ()
    #: The target's CPU spent making these estimates.
    cost_s: float = 0.0

    @property
    def argument(self) -> Estimate:
        return _median(self.arguments)

    @property
    def result(self) -> Estimate:
        return _median(self.results)

    @property
    def parent_s(self) -> float:
        """What a process pool's parent would spend per run: pickle arguments, unpickle results."""
        return self.tasks * (self.argument[1] + self.result[2])

    @property
    def workers_s(self) -> float:
        """What its workers would spend: unpickle arguments, pickle results."""
        return self.tasks * (self.argument[2] + self.result[1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "site": self.site,
            "code": self.code,
            "tasks": self.tasks,
            "counted": self.counted,
            "arguments": [list(e) for e in self.arguments],
            "results": [list(e) for e in self.results],
            "errors": list(self.errors),
            "cost_s": self.cost_s,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> PoolShipping:
        return PoolShipping(
            pool=int(data["pool"]),
            site=str(data.get("site", "")),
            code=str(data.get("code", "")),
            tasks=int(data.get("tasks", 0)),
            counted=bool(data.get("counted", False)),
            arguments=tuple(_estimate(e) for e in data.get("arguments", ())),
            results=tuple(_estimate(e) for e in data.get("results", ())),
            errors=tuple(str(e) for e in data.get("errors", ())),
            cost_s=float(data.get("cost_s", 0.0)),
        )


def _estimate(row: Any) -> Estimate:
    size, dump_s, load_s = row
    return float(size), float(dump_s), float(load_s)


def _median(estimates: tuple[Estimate, ...]) -> Estimate:
    if not estimates:
        return (0.0, 0.0, 0.0)
    return (
        statistics.median(e[0] for e in estimates),
        statistics.median(e[1] for e in estimates),
        statistics.median(e[2] for e in estimates),
    )


@dataclass
class ShippingDraft:
    """What the bootstrap's ``task_shipping`` and ``task_counts`` messages said, pool by pool."""

    sites: dict[int, tuple[str, str]] = field(default_factory=dict)
    arguments: dict[int, list[Estimate]] = field(default_factory=dict)
    results: dict[int, list[Estimate]] = field(default_factory=dict)
    errors: dict[int, list[str]] = field(default_factory=dict)
    cost_s: dict[int, float] = field(default_factory=dict)
    counts: dict[int, int] | None = None

    def add(self, message: dict[str, Any]) -> None:
        """One ``task_shipping`` message; malformed ones are dropped."""
        try:
            pool = int(message["pool"])
            part = message["part"]
            self.cost_s[pool] = self.cost_s.get(pool, 0.0) + float(message.get("cost_s", 0.0))
            if message.get("file") and pool not in self.sites:
                where = f"{message['file']}:{message.get('line')}"
                self.sites[pool] = (where, str(message.get("code", "")))
            if "error" in message:
                self.errors.setdefault(pool, []).append(str(message["error"]))
                return
            estimate = _estimate((message["bytes"], message["pickle_s"], message["unpickle_s"]))
        except (KeyError, TypeError, ValueError):
            return
        kept = self.arguments if part == "arguments" else self.results
        kept.setdefault(pool, []).append(estimate)

    def count(self, message: dict[str, Any]) -> None:
        try:
            self.counts = {int(k): int(n) for k, n in dict(message["counts"]).items()}
        except (KeyError, TypeError, ValueError):
            return

    def pools(self) -> tuple[PoolShipping, ...]:
        numbers = sorted(set(self.arguments) | set(self.errors) | set(self.counts or {}))
        out = []
        for n in numbers:
            sampled = len(self.arguments.get(n, ())) + len(self.errors.get(n, ()))
            counted = self.counts is not None and n in self.counts
            site, code = self.sites.get(n, ("", ""))
            out.append(
                PoolShipping(
                    pool=n,
                    site=site,
                    code=code,
                    tasks=max(sampled, (self.counts or {}).get(n, 0)),
                    counted=counted,
                    arguments=tuple(self.arguments.get(n, ())),
                    results=tuple(self.results.get(n, ())),
                    errors=tuple(dict.fromkeys(self.errors.get(n, ()))),
                    cost_s=self.cost_s.get(n, 0.0),
                )
            )
        return tuple(out)
