"""What a process pool would pay to ship a thread pool's tasks, and what the verdict says of it.

A program on threads passes each task its arguments by reference; the in-target estimates
(`concdiag.recording.shipping`) say what pickling them, and the results, would cost. The
figures enter the processes prediction as the pool overhead a process pool would pay: the
parent's share (pickling arguments, unpickling results) and the workers' share (the reverse).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from concdiag.analysis.verdict.inputs import Inputs, ShippingFigures
from concdiag.analysis.verdict.thresholds import SHIPPING_NAMED_SHARE
from concdiag.formatting import human_bytes
from concdiag.model import Reason
from concdiag.recording.shipping import PoolShipping


def shipping_figures(pools: Sequence[PoolShipping]) -> ShippingFigures:
    """The pools' estimates summed; the costliest pool named."""
    measured = [p for p in pools if p.arguments]
    if not measured and not any(p.errors for p in pools):
        return ShippingFigures()
    costliest = max(measured, key=lambda p: p.parent_s + p.workers_s, default=None)
    error = next((e for p in pools for e in p.errors), "")
    named = costliest or next(p for p in pools if p.errors)
    argument = costliest.argument if costliest is not None else (0.0, 0.0, 0.0)
    return ShippingFigures(
        measured=bool(measured),
        parent_s=sum(p.parent_s for p in measured),
        workers_s=sum(p.workers_s for p in measured),
        tasks=sum(p.tasks for p in measured),
        sampled=sum(len(p.arguments) for p in measured),
        argument_bytes=argument[0],
        argument_pickle_s=argument[1],
        argument_unpickle_s=argument[2],
        at=_place(named.site),
        error=error,
        cost_s=sum(p.cost_s for p in pools),
    )


def _place(site: str) -> str:
    path, _, line = site.rpartition(":")
    return f"{os.path.basename(path)}:{line}" if path else site


def shipping_measured(inputs: Inputs, current_kind: str) -> bool:
    """The run's thread pools were estimated: processes' pickling cost is known, not assumed."""
    return current_kind == "threading" and inputs.shipping.measured


def task_shipping(
    inputs: Inputs, current_kind: str, recommendation: str, divisible_s: float
) -> Reason | None:
    """`task_shipping`: what a process pool would spend pickling this program's tasks, named
    when it is a sizeable share of the work, or when processes are recommended anyway."""
    ship = inputs.shipping
    if not shipping_measured(inputs, current_kind):
        return None
    sizeable = ship.total_s >= SHIPPING_NAMED_SHARE * max(divisible_s, 1e-9)
    if not sizeable and recommendation != "multiprocessing":
        return None
    per_task = (
        f"each task's arguments pickle to about {human_bytes(ship.argument_bytes)} "
        f"({ship.argument_pickle_s * 1000:.0f} ms to pickle, "
        f"{ship.argument_unpickle_s * 1000:.0f} ms to unpickle; estimated on "
        f"{ship.sampled} of {ship.tasks} tasks submitted at {ship.at})"
    )
    message = (
        f"A process pool would pickle every task it is sent: {per_task}. With the results, "
        f"that is {ship.parent_s:.2f} s in the parent and {ship.workers_s:.2f} s in the "
        f"workers against {divisible_s:.2f} s of work, and the predicted speedup for processes "
        "includes it."
    )
    if sizeable:
        message += (
            " Pass large data once instead of with every task (a pool initializer, fork's "
            "copy-on-write of module globals, shared memory) and send each task only what "
            "tells it apart (an index, a key)."
        )
    return Reason(
        "task_shipping",
        message,
        {
            "tasks": ship.tasks,
            "sampled": ship.sampled,
            "argument_bytes": round(ship.argument_bytes),
            "argument_pickle_s": round(ship.argument_pickle_s, 4),
            "argument_unpickle_s": round(ship.argument_unpickle_s, 4),
            "parent_s": round(ship.parent_s, 3),
            "workers_s": round(ship.workers_s, 3),
            "divisible_s": round(divisible_s, 3),
            "estimate_cost_s": round(ship.cost_s, 4),
        },
    )


def tasks_unpicklable(inputs: Inputs, current_kind: str, recommendation: str) -> Reason | None:
    """`tasks_unpicklable`: processes are recommended, but pickling a task failed here."""
    ship = inputs.shipping
    if current_kind != "threading" or recommendation != "multiprocessing" or not ship.error:
        return None
    return Reason(
        "tasks_unpicklable",
        f"A process pool cannot run the tasks submitted at {ship.at} as written: pickling "
        f"one failed ({ship.error}). Make the task a module-level function whose arguments "
        "pickle (no lambdas, open files, locks or connections); each worker opens its own.",
        {"error": ship.error, "at": ship.at},
    )
