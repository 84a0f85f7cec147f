"""The verdict's lock rules: a deadlock, and the lock a lock-bound program waits for.

Like `verdict_rules`, each returns a `Reason` carrying its figures, or None. They read the
profile's ``locks`` part (`analysis.locks`), which only launch mode's lock tracker fills,
except an inferred deadlock, which attach fills from samples.
"""

from __future__ import annotations

from concdiag.model import Reason
from concdiag.model.locks import Deadlock, LockProfile, LockReport


def deadlock(locks: LockReport | None) -> Reason | None:
    """`deadlock` (a wait-for cycle the tracker saw) or `likely_deadlock` (attach)."""
    found = locks.deadlock if locks is not None else None
    if found is None:
        return None
    return Reason(
        "deadlock" if found.confirmed else "likely_deadlock",
        found.message,
        {
            "threads": len(found.stacks),
            "lasted_s": round(found.lasted_s, 3),
            "confirmed": found.confirmed,
        },
    )


def top_lock(locks: LockReport | None) -> LockProfile | None:
    """The lock threads waited for longest, if any thread waited for one."""
    if locks is None or not locks.locks or locks.locks[0].wait_s <= 0:
        return None
    return locks.locks[0]


#: The lock kinds one holder at a time can hold.
MUTEX_KINDS = ("Lock", "RLock")


def one_lock_held_longest(locks: LockReport | None) -> LockProfile | None:
    """The lock held longest among those that are one lock (one created at their line), when
    its holds were timed: every thread that takes it takes the same lock."""
    if locks is None:
        return None
    single = [
        lock
        for lock in locks.locks
        if lock.instances == 1 and lock.kind in MUTEX_KINDS and (lock.hold_s or 0.0) > 0
    ]
    return max(single, key=lambda lock: lock.hold_s or 0.0, default=None)


def contended_lock(locks: LockReport | None, bound: str) -> Reason | None:
    """For a lock-bound program: which lock, where it is taken, and what to change."""
    lock = top_lock(locks)
    if lock is None or bound != "sync":
        return None
    section = lock.critical_sections[0] if lock.critical_sections else None
    threads = lock.waiting_threads
    where = (
        f", mostly while it was held from {section.at.place}"
        if section is not None and section.waits_caused
        else ""
    )
    figures: dict[str, str | int | float | bool | None] = {
        "lock": lock.prose_name,
        "wait_s": round(lock.wait_s, 3),
        "contended": lock.contended,
        "acquisitions": lock.acquisitions,
        "waiting_threads": threads,
        "critical_section": (
            f"{section.at.file}:{section.at.line}" if section is not None else None
        ),
        "advice": lock.advice_kind,
    }
    return Reason(
        "contended_lock",
        f"Threads waited {lock.wait_s:.2f} s for {lock.prose_name} ({lock.contended} of "
        f"{lock.acquisitions} acquisitions waited, {threads} threads){where}. {lock.advice}",
        figures,
    )


def deadlock_summary(found: Deadlock) -> str:
    what = "deadlocked" if found.confirmed else "looks deadlocked"
    fix = (
        "Take the locks in one order everywhere, or hold one at a time; the report lists "
        "each thread's stack."
        if found.confirmed
        else "The report lists each thread's stack; run it under `concdiag profile` to see "
        "the wait-for cycle."
    )
    return f"This program {what}. {found.message} {fix}"
