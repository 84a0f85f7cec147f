"""A run without a GIL (a free-threaded build with it off): what changes in the profile.

No thread holds or waits for a GIL, so those states and the GIL figures are absent (None)
rather than zero, and a reader says "no GIL". Threads run Python in parallel, so what limits
them is named instead: lock waits (and the lock the tracker saw most waited for) and how many
of the cores the run actually used.
"""

from __future__ import annotations

import dataclasses

from concdiag.analysis.locks import label
from concdiag.analysis.verdict_inputs import Inputs
from concdiag.analysis.verdict_rules import pct
from concdiag.model import GilStats, JsonScalar, Profile, Reason, ThreadProfile
from concdiag.model.locks import LockReport
from concdiag.model.states import GIL_KEYS


def limits_without_gil(inputs: Inputs, bound: str, locks: LockReport | None) -> Reason | None:
    """`free_threaded`: threads run Python in parallel; what limits their scaling instead."""
    if inputs.gil_enabled or bound not in ("cpu", "mixed"):
        return None
    sync_share = inputs.share(inputs.lock_s)
    top = locks.locks[0] if locks is not None and locks.locks else None
    named = (
        f", most on {label(top)} ({top.wait_s:.2f} s, {top.contended} contended acquisitions)"
        if top is not None and top.wait_s > 0
        else ""
    )
    figures: dict[str, JsonScalar] = {
        "gil_enabled": False,
        "sync_share": round(sync_share, 4),
        "lock_wait_s": round(inputs.lock_s, 3),
        "cores_used_mean": round(inputs.cores_used_mean, 3),
        "cores": inputs.cores,
    }
    if named and top is not None:
        figures["lock"] = label(top)
    return Reason(
        "free_threaded",
        "This interpreter runs without a GIL: threads run Python code in parallel. What "
        f"limits them instead: {pct(sync_share)} of worker time waiting on locks{named}; "
        f"the run used {inputs.cores_used_mean:.2f} of {inputs.cores} cores on average.",
        figures,
    )


def without_gil(profile: Profile) -> Profile:
    """The profile with every GIL state and GIL figure absent rather than zero."""
    processes = [
        dataclasses.replace(
            p,
            gil=_no_gil(p.gil),
            threads=[_thread(t) for t in p.threads],
        )
        for p in profile.processes
    ]
    summary = dataclasses.replace(
        profile.summary,
        thread_seconds=profile.summary.thread_seconds.without_gil(),
        worker_seconds=profile.summary.worker_seconds.without_gil(),
        gil_utilisation=None,
        gil_wait_share=None,
    )
    timeline = dataclasses.replace(
        profile.timeline,
        gil_utilisation=[None] * len(profile.timeline.gil_utilisation),
        lanes=[
            dataclasses.replace(
                lane, shares={k: v for k, v in lane.shares.items() if k not in GIL_KEYS}
            )
            for lane in profile.timeline.lanes
        ],
    )
    deep = profile.deep
    if deep is not None:
        deep = dataclasses.replace(
            deep,
            threads=[
                dataclasses.replace(
                    t,
                    functions=[
                        dataclasses.replace(f, state_seconds=f.state_seconds.without_gil())
                        for f in t.functions
                    ],
                )
                for t in deep.threads
            ],
        )
    return dataclasses.replace(
        profile, processes=processes, summary=summary, timeline=timeline, deep=deep
    )


def _no_gil(gil: GilStats) -> GilStats:
    return dataclasses.replace(
        gil,
        enabled=False,
        utilisation=None,
        wait_s=None,
        mean_waiting_threads=None,
        switches=None,
        mean_wait_ms=None,
    )


def _thread(t: ThreadProfile) -> ThreadProfile:
    return dataclasses.replace(
        t,
        gil_held_share=None,
        states=t.states.without_gil(),
        state_seconds=t.state_seconds.without_gil(),
        share_errors=t.share_errors.without_gil() if t.share_errors is not None else None,
    )
