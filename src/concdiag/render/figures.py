"""The few figures that justify a verdict, chosen by its bound; shared by every renderer."""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.model import STATE_KEYS, Profile, States

STATE_LABELS = {
    "gil_held": "GIL held",
    "gil_wait": "GIL wait",
    "native": "native CPU",
    "io": "I/O wait",
    "sync": "sync wait",
    "unknown": "unknown",
}


@dataclass(frozen=True, slots=True)
class Figure:
    label: str
    value: str
    help: str


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def shares(seconds: States) -> dict[str, float]:
    total = seconds.total() or 1.0
    return {k: seconds.get(k) / total for k in STATE_KEYS}


def bound_words(bound: str) -> str:
    """``cpu-bound``, ``io-bound``...; a deadlock is no bound: ``deadlock``."""
    return bound if bound == "deadlock" else f"{bound}-bound"


def key_figures(profile: Profile) -> list[Figure]:
    s = profile.summary
    v = profile.verdict
    w = shares(s.worker_seconds)
    cpu = w["gil_held"] + w["gil_wait"] + w["native"]
    python_of_cpu = (w["gil_held"] + w["gil_wait"]) / cpu if cpu else 0.0
    gil = Figure(
        "GIL utilisation",
        pct(s.gil_utilisation),
        "share of samples in which some thread held the GIL",
    )
    cores = Figure(
        "cores used",
        f"{s.cores_used_mean:.2f} of {profile.run.cpu_count}",
        "mean CPU seconds per second of wall time, all processes",
    )
    if v.bound == "cpu" and v.cpu_kind == "python":
        return [
            Figure("Python CPU (GIL held)", pct(python_of_cpu), "share of CPU time holding GIL"),
            gil,
            cores,
        ]
    if v.bound == "cpu":
        return [
            Figure("native CPU", pct(1 - python_of_cpu), "CPU time with GIL released"),
            cores,
            gil,
        ]
    if v.bound == "io":
        return [Figure("I/O wait", pct(w["io"]), "share of worker time blocked in I/O"), cores, gil]
    if v.bound == "sync":
        return [
            Figure("lock wait", pct(w["sync"]), "share of worker time waiting on locks"),
            Figure("lock wait seconds", f"{s.worker_seconds.sync:.2f} s", "thread-seconds"),
            cores,
        ]
    if v.bound == "deadlock":
        stuck = profile.locks.deadlock if profile.locks is not None else None
        return [
            Figure("threads stuck", str(len(stuck.stacks)) if stuck else "n/a", "in the cycle"),
            Figure("stuck for", f"{stuck.lasted_s:.1f} s" if stuck else "n/a", "when reported"),
            cores,
        ]
    if v.bound == "idle":
        return [
            Figure("CPU", pct(cpu), "share of worker time on CPU"),
            Figure("I/O and sleep", pct(w["io"]), "share of worker time blocked"),
            cores,
        ]
    return [
        Figure("CPU", pct(cpu), "share of worker time on CPU"),
        Figure("I/O wait", pct(w["io"]), "share of worker time blocked in I/O"),
        gil,
    ]
