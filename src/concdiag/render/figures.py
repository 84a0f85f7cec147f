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


#: Worker processes whose GIL utilisation is listed one by one; more are shown as a range.
LISTED_WORKERS = 3


def gil_figure(profile: Profile) -> Figure:
    """GIL utilisation: one process's own figure, so a process tree gets one per process."""
    help_text = "share of samples in which some thread held the GIL"
    if len(profile.processes) < 2:
        return Figure("GIL utilisation", pct(profile.summary.gil_utilisation), help_text)
    root = profile.root_process()
    parent = root.gil.utilisation if root is not None else None
    workers = [
        p.gil.utilisation
        for p in profile.processes
        if not p.is_root and p.python and p.gil.utilisation is not None
    ]
    value = f"parent {pct(parent)}"
    if len(workers) == 1:
        value += f", worker {pct(workers[0])}"
    elif 1 < len(workers) <= LISTED_WORKERS:
        value += ", workers " + " / ".join(pct(u) for u in workers)
    elif workers:
        value += f", {len(workers)} workers {pct(min(workers))}-{pct(max(workers))}"
    return Figure("GIL utilisation per process", value, help_text + ", in each process")


def key_figures(profile: Profile) -> list[Figure]:
    """The figures for the verdict's bound; for a process tree, the tree's (GIL: per process)."""
    s = profile.summary
    v = profile.verdict
    w = shares(s.worker_seconds)
    cpu = w["gil_held"] + w["gil_wait"] + w["native"]
    python_of_cpu = (w["gil_held"] + w["gil_wait"]) / cpu if cpu else 0.0
    gil = gil_figure(profile)
    tree = len(profile.processes) > 1
    across = f" across {len(profile.processes)} processes" if tree else ""
    cores = Figure(
        "cores used" + (" (process tree)" if tree else ""),
        f"{s.cores_used_mean:.2f} of {profile.run.cpu_count}",
        "mean CPU seconds per second of wall time, all processes",
    )
    if v.bound == "cpu" and v.cpu_kind == "python":
        return [
            Figure(
                "Python CPU (GIL held)",
                pct(python_of_cpu),
                "share of the workers' CPU time holding the GIL" + across,
            ),
            gil,
            cores,
        ]
    if v.bound == "cpu":
        return [
            Figure("native CPU", pct(1 - python_of_cpu), "CPU time with the GIL released" + across),
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
