"""What every renderer shows of deep mode: labels, anchors and the "waits / computes" lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from concdiag.formatting import short_name
from concdiag.model import DeepFunction, DeepThread, Profile

BEHAVIOUR_LABELS = {
    "computes": "computes",
    "gil_wait": "waits for the GIL",
    "io_wait": "waits on I/O",
    "lock_wait": "waits on locks",
    "awaits": "awaits (suspended)",
    "mixed": "mixed",
    "unsampled": "not sampled",
}
WAITING = ("gil_wait", "io_wait", "lock_wait", "awaits")


def deep_anchor(pid: int, tid: int, file: str, function: str) -> str:
    """The HTML id of a function's row in the deep tables (for links from hot code, flames)."""
    safe = "".join(
        c if c.isascii() and c.isalnum() else "_" for c in f"{file}-{short_name(function)}"
    )
    return f"deep-{pid}-{tid}-{safe}"


@dataclass(frozen=True, slots=True)
class Highlight:
    thread: DeepThread
    row: DeepFunction

    @property
    def label(self) -> str:
        return BEHAVIOUR_LABELS.get(self.row.behaviour, self.row.behaviour)

    def sentence(self) -> str:
        r = self.row
        parts = [f"wall {r.wall_s:.2f} s"]
        if r.cpu_s is not None:
            parts.append(f"CPU {r.cpu_s:.2f} s")
        s = r.state_seconds
        if s.gil_wait:
            parts.append(f"GIL wait {s.gil_wait:.2f} s")
        if s.io:
            parts.append(f"I/O {s.io:.2f} s")
        if s.sync:
            parts.append(f"locks {s.sync:.2f} s")
        if r.awaiting_s:
            parts.append(f"suspended in await {r.awaiting_s:.2f} s")
        if r.calls is not None:
            parts.append(f"{r.calls} call" + ("" if r.calls == 1 else "s"))
        return f"{short_name(r.function)} ({self.thread.name}) {self.label}: " + ", ".join(parts)


def highlights(profile: Profile, limit: int = 3) -> tuple[list[Highlight], list[Highlight]]:
    """The functions that wait longest and those that compute most, across threads."""
    deep = profile.deep
    if deep is None:
        return [], []
    waits: list[Highlight] = []
    computes: list[Highlight] = []
    for t in deep.threads:
        for r in t.functions:
            if r.behaviour in WAITING:
                waits.append(Highlight(t, r))
            elif r.behaviour == "computes":
                computes.append(Highlight(t, r))

    def waited(h: Highlight) -> float:
        s = h.row.state_seconds
        return (h.row.awaiting_s or 0.0) + s.get("gil_wait") + s.io + s.sync

    def computed(h: Highlight) -> float:
        r = h.row
        return r.cpu_self_s if r.cpu_self_s is not None else r.wall_self_s

    # Inclusive waits repeat up the call chain; keep the innermost waiter of each chain by
    # ranking on self time where the sampler saw it run, else on suspended time.
    waits.sort(key=lambda h: (-(h.row.wall_self_s or h.row.awaiting_s or 0.0), -waited(h)))
    computes.sort(key=lambda h: -computed(h))
    return waits[:limit], computes[:limit]


def html_deep_view(profile: Profile) -> dict[str, Any] | None:
    """Rows with their anchors and labels, for the HTML template."""
    deep = profile.deep
    if deep is None:
        return None
    anchors: set[str] = set()
    by_function: dict[tuple[str, str], tuple[float, str]] = {}
    threads = []
    for t in deep.threads:
        rows = []
        for r in t.functions:
            anchor = deep_anchor(t.pid, t.tid, r.file, r.function)
            if anchor in anchors:  # two definitions with one short name: link the first
                anchor = f"{anchor}-{r.line}"
            anchors.add(anchor)
            # links from code that is not per thread (hot code, flame graph) go to the
            # thread where the function took longest
            key = (r.file, short_name(r.function))
            weight = max(r.wall_s, r.cpu_s or 0.0, r.traced_wall_s or 0.0)
            if key not in by_function or weight > by_function[key][0]:
                by_function[key] = (weight, anchor)
            rows.append({"r": r, "anchor": anchor, "label": BEHAVIOUR_LABELS[r.behaviour]})
        threads.append({"t": t, "rows": rows})
    waits, computes = highlights(profile)
    root = next((p for p in profile.processes if p.pid == deep.pid), None)
    return {
        "threads": threads,
        "anchors": anchors,
        "by_function": {key: anchor for key, (_, anchor) in by_function.items()},
        "waits": [_linked(h) for h in waits],
        "computes": [_linked(h) for h in computes],
        "gil_switches": root.gil.switches if root is not None else None,
    }


def _linked(h: Highlight) -> dict[str, str]:
    return {
        "text": h.sentence(),
        "anchor": deep_anchor(h.thread.pid, h.thread.tid, h.row.file, h.row.function),
    }
