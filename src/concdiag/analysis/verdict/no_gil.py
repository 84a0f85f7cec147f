"""The verdict's rule for a run without a GIL (a free-threaded build with it off).

Threads run Python in parallel, so what limits them is named instead of GIL contention: lock
waits (and the lock the tracker saw most waited for) and how many of the cores the run used.
"""

from __future__ import annotations

from concdiag.analysis.verdict.inputs import Inputs
from concdiag.formatting import pct
from concdiag.model import JsonScalar, Reason
from concdiag.model.locks import LockReport


def limits_without_gil(inputs: Inputs, bound: str, locks: LockReport | None) -> Reason | None:
    """`free_threaded`: threads run Python in parallel; what limits their scaling instead."""
    if inputs.gil_enabled or bound not in ("cpu", "mixed"):
        return None
    sync_share = inputs.share(inputs.lock_s)
    top = locks.locks[0] if locks is not None and locks.locks else None
    named = (
        f", most on {top.prose_name} ({top.wait_s:.2f} s, {top.contended} contended acquisitions)"
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
        figures["lock"] = top.prose_name
    return Reason(
        "free_threaded",
        "This interpreter runs without a GIL: threads run Python code in parallel. What "
        f"limits them instead: {pct(sync_share)} of worker time waiting on locks{named}; "
        f"the run used {inputs.cores_used_mean:.2f} of {inputs.cores} cores on average.",
        figures,
    )
