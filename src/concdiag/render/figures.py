"""The few figures that justify a verdict, chosen by its bound; shared by every renderer."""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.formatting import pct
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


#: What a report says where a run without a GIL has no GIL figure (never 0%).
NO_GIL = "no GIL"


def has_gil(profile: Profile) -> bool:
    """False for a free-threaded build that ran without the GIL: no GIL states or figures."""
    return profile.summary.worker_seconds.has_gil


def state_keys(profile: Profile) -> tuple[str, ...]:
    """The states a profile's tables show: without the GIL's when the run had none."""
    return profile.summary.worker_seconds.state_keys()


def gil_cell(value: float | None, fmt: str = ".2f") -> str:
    """A GIL figure for a table cell: "no GIL" where the run had none."""
    return NO_GIL if value is None else format(value, fmt)


def shares(seconds: States) -> dict[str, float]:
    total = seconds.total() or 1.0
    return {k: seconds.get(k) / total for k in STATE_KEYS}


#: Worker processes whose GIL utilisation is listed one by one; more are shown as a range.
LISTED_WORKERS = 3


def gil_figure(profile: Profile) -> Figure:
    """GIL utilisation: one process's own figure, so a process tree gets one per process."""
    help_text = "share of samples in which some thread held the GIL"
    if not has_gil(profile):
        return Figure("GIL", NO_GIL, "a free-threaded build that ran without the GIL")
    if len(profile.processes) < 2:
        return Figure("GIL utilisation", pct(profile.summary.gil_utilisation), help_text)
    root = profile.root_process()
    parent = root.gil.utilisation if root is not None else None
    workers = [
        p.gil.utilisation
        for p in profile.processes
        if not p.is_root and not p.helper and p.python and p.gil.utilisation is not None
    ]
    value = f"parent {pct(parent)}"
    if len(workers) == 1:
        value += f", worker {pct(workers[0])}"
    elif 1 < len(workers) <= LISTED_WORKERS:
        value += ", workers " + " / ".join(pct(u) for u in workers)
    elif workers:
        value += f", {len(workers)} workers {pct(min(workers))}-{pct(max(workers))}"
    helpers = [p.helper for p in profile.processes if p.helper]
    if helpers:
        value += f"; not workers: {', '.join(helpers)}"
    return Figure("GIL utilisation", value, help_text + ", in each process")


def bound_words(bound: str) -> str:
    """``cpu-bound``, ``io-bound``...; a deadlock is no bound: ``deadlock``."""
    return bound if bound == "deadlock" else f"{bound}-bound"


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
        "cores used",
        f"{s.cores_used_mean:.2f} of {profile.run.cpu_count}{across}",
        "mean CPU seconds per second of wall time, all processes",
    )
    if v.bound == "cpu" and not has_gil(profile):
        return [
            Figure("CPU", pct(cpu), "share of worker time on CPU, Python and native alike"),
            cores,
            gil,
        ]
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


#: Notes below this share of a thread's (or the threads') time are not worth a line.
NOTE_SHARE = 0.05


def share_with_error(share: float, error: float | None) -> str:
    """ "34% ± 6" where the error bar is a point or more, else "34%" (0 shows as "")."""
    if share <= 0:
        return ""
    text = "<1%" if share < 0.005 else pct(share)
    if error is None or round(100 * error) < 1:
        return text
    return f"{text} ± {100 * error:.0f}"


def pre_empted_note(profile: Profile) -> str:
    """One note for every thread that held the GIL while pre-empted (the same cause on each),
    naming each thread's process where the run had several."""
    several = len(profile.processes) > 1
    found = [
        (f"{t.name} (pid {process.pid})" if several else t.name, t)
        for process in profile.processes
        for t in process.threads
        if t.pre_empted_share >= NOTE_SHARE and t.cpu_clock_share is not None
    ]
    if not found:
        return ""
    cause = (
        "other load took {its} CPU, and other threads waited for the GIL meanwhile. The "
        "verdict leaves that time out of the work."
    )
    if len(found) == 1:
        name, t = found[0]
        return (
            f"{name} held the GIL while pre-empted for about {pct(t.pre_empted_share)} of its "
            f"time (GIL held {pct(t.states.gil_held)}, its CPU clock "
            f"{pct(t.cpu_clock_share)}): " + cause.format(its="its")
        )
    shares = [t.pre_empted_share for _name, t in found]
    names = ", ".join(name for name, _t in found[:4]) + (", ..." if len(found) > 4 else "")
    low, high = pct(min(shares)), pct(max(shares))
    span = low if low == high else f"{low}-{high}"
    return (
        f"{len(found)} threads held the GIL while pre-empted for about {span} of their time "
        f"({names}): " + cause.format(its="their")
    )


def clock_notes(profile: Profile) -> list[str]:
    """What the clock check and the error bars say about how far the states can be trusted."""
    notes = []
    check = profile.summary.clock_check
    if check is not None and check.threads_over:
        notes.append(
            f"{check.threads_over} thread(s) disagree with their own CPU clock by more than "
            f"{pct(check.warn_share)} and their sampling error: the most, {check.thread} "
            f"(tid {check.tid}), by {100 * check.largest_disagreement:.0f} points "
            f"(± {100 * check.error:.0f}). Its states are less reliable than the error bars say."
        )
    pre_empted = pre_empted_note(profile)
    if pre_empted:
        notes.append(pre_empted)
    python_s = profile.summary.thread_seconds.total()
    if python_s and profile.summary.starved_s / python_s >= NOTE_SHARE:
        notes.append(
            f"Threads were runnable but waiting for a CPU for {profile.summary.starved_s:.2f} "
            f"thread-seconds ({pct(profile.summary.starved_s / python_s)} of their time), "
            "counted as unknown: the machine was busier than its cores."
        )
    few = [
        t.name
        for p in profile.processes
        if not p.helper
        for t in p.threads
        if t.few_samples and t.python and t.role == "worker"
    ]
    if few:
        notes.append(
            f"{len(few)} worker thread(s) had too few samples for their shares to be within 10 "
            f"points ({', '.join(few[:4])}{', ...' if len(few) > 4 else ''})."
        )
    return notes
