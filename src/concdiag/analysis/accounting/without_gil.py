"""The accounting's figures for a run without a GIL (a free-threaded build with it off).

No thread holds or waits for a GIL, so those states and the GIL figures are absent (None)
rather than zero, and a reader says "no GIL" instead of reading a measured 0%.
"""

from __future__ import annotations

import dataclasses

from concdiag.model import GilStats, ProcessProfile, Summary, ThreadProfile, Timeline
from concdiag.model.deep import DeepProfile
from concdiag.model.states import GIL_KEYS


def processes_without_gil(processes: list[ProcessProfile]) -> list[ProcessProfile]:
    return [
        dataclasses.replace(p, gil=_no_gil(p.gil), threads=[_thread(t) for t in p.threads])
        for p in processes
    ]


def summary_without_gil(summary: Summary) -> Summary:
    return dataclasses.replace(
        summary,
        thread_seconds=summary.thread_seconds.without_gil(),
        worker_seconds=summary.worker_seconds.without_gil(),
        gil_utilisation=None,
        gil_wait_share=None,
    )


def timeline_without_gil(timeline: Timeline) -> Timeline:
    return dataclasses.replace(
        timeline,
        gil_utilisation=[None] * len(timeline.gil_utilisation),
        lanes=[
            dataclasses.replace(
                lane, shares={k: v for k, v in lane.shares.items() if k not in GIL_KEYS}
            )
            for lane in timeline.lanes
        ],
    )


def deep_without_gil(deep: DeepProfile) -> DeepProfile:
    return dataclasses.replace(
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
