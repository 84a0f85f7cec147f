"""What every renderer shows of the profile's ``locks`` part: the Locks section and deadlocks.

The HTML template (``_locks.html.j2``), the Markdown and the terminal summary all read the
rows built here, so they say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from concdiag.model import Profile
from concdiag.model.locks import CodeLine, CriticalSection, LockProfile, LockReport

#: Contended locks shown in detail (waiters, lines, critical sections); the table lists all.
DETAILED = 5
#: Locks listed in Markdown.
MD_LOCKS = 5


def where(at: CodeLine | None) -> str:
    return at.place if at is not None else ""


def ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{1000 * seconds:.1f}"


@dataclass(frozen=True, slots=True)
class SectionRow:
    section: CriticalSection
    span: str  # "deadlock.py:31-35"
    states: str  # "io 92%, native 8%"


def _states_text(states: dict[str, float]) -> str:
    total = sum(states.values())
    if total <= 0:
        return ""
    ranked = sorted(states.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in ranked if v > 0)


def section_rows(lock: LockProfile) -> list[SectionRow]:
    rows = []
    for s in lock.critical_sections:
        span = where(s.at) + (f"-{s.end_line}" if s.end_line and s.end_line != s.at.line else "")
        rows.append(SectionRow(s, span, _states_text(s.states)))
    return rows


def contended(report: LockReport) -> list[LockProfile]:
    return [lock for lock in report.locks if lock.wait_s > 0]


def notified(report: LockReport) -> list[LockProfile]:
    return [lock for lock in report.locks if lock.notify_wait_s > 0]


def html_locks_view(profile: Profile) -> dict[str, Any] | None:
    report = profile.locks
    if report is None:
        return None
    hot = contended(report)
    return {
        "report": report,
        "contended": hot,
        "detailed": [{"lock": lock, "sections": section_rows(lock)} for lock in hot[:DETAILED]],
        "notified": notified(report),
        "quiet": len(report.locks) - len(hot),
    }


def text_lines(profile: Profile) -> list[str]:
    """The terminal summary's lock lines: the top lock, or where each deadlocked thread waits."""
    report = profile.locks
    if report is None:
        return []
    if report.deadlock is not None:
        d = report.deadlock
        lines = [f"  deadlock: {len(d.stacks)} threads stuck for {d.lasted_s:.1f} s"]
        for e in d.cycle:
            lines.append(
                f"    {e.thread} waits at {where(e.waiting_at)} for {e.lock}; held by "
                f"{e.held_by}" + (f" since {where(e.held_since)}" if e.held_since else "")
            )
        return lines
    hot = contended(report)
    if not hot:
        return []
    top = hot[0]
    return [
        f"  top lock: {top.table_name} ({where(top.created_at)}): {top.wait_s:.2f} s waited "
        f"over {top.contended} of {top.acquisitions} acquisitions"
    ]


def markdown_lines(profile: Profile, escape: Callable[[str], str]) -> list[str]:
    """The Markdown's Locks part: the deadlock's cycle, then the contended locks."""
    report = profile.locks
    if report is None:
        return []
    out: list[str] = []
    d = report.deadlock
    if d is not None:
        out += ["", f"**{'Deadlock' if d.confirmed else 'Likely deadlock'}**", ""]
        out.append(escape(d.message))
        if d.cycle:
            out += [
                "",
                "| thread | waits at | for | held by | taken at |",
                "| --- | --- | --- | --- | --- |",
            ]
            for e in d.cycle:
                out.append(
                    f"| {escape(e.thread)} | {escape(where(e.waiting_at))} "
                    f"{escape(e.waiting_code)} | {escape(e.lock)} | {escape(e.held_by)} | "
                    f"{escape(where(e.held_since))} {escape(e.held_code)} |"
                )
    hot = contended(report)
    if hot:
        out += [
            "",
            "**Locks** (by time waited)",
            "",
            "| lock | created at | waited s | contended | longest hold ms | advice |",
            "| --- | --- | ---: | ---: | ---: | --- |",
        ]
        for lock in hot[:MD_LOCKS]:
            out.append(
                f"| {escape(lock.table_name)} | {escape(where(lock.created_at))} | "
                f"{lock.wait_s:.2f} | {lock.contended} of {lock.acquisitions} | "
                f"{ms(lock.hold_max_s)} | {escape(lock.advice)} |"
            )
    return out
