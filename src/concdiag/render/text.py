"""The terminal summary printed after a run.

By default it is at most `SHORT_SUMMARY_LINES` lines: the verdict, why in one sentence, its
figures, what was measured (whatif), what to change and where, anything that makes the run
incomplete, how many notes the report holds, and where the reports are. ``--verbose`` prints
every line the report's summary has (each note, the process tree, the lock, the deep view).
"""

from __future__ import annotations

import re
from pathlib import Path

from concdiag.model import Profile, recommendation_words
from concdiag.render.deep_view import highlights
from concdiag.render.figures import bound_words, clock_notes, key_figures
from concdiag.render.locks_view import text_lines
from concdiag.render.whatif_view import alternative_rows, summary_lines

#: The default summary's most lines. The number is the one a reader takes in at a glance
#: after a run: a verdict, its reason, its figures, the change, the files.
SHORT_SUMMARY_LINES = 8

#: Where one sentence of the verdict's summary ends: a full stop before a capital letter
#: (figures like "0.20 s" or "e.g." have none after them).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def summary_text(profile: Profile, written: list[Path], verbose: bool = False) -> str:
    lines = _verbose_lines(profile, written) if verbose else _short_lines(profile, written)
    return "\n".join(lines)


def _headline(profile: Profile) -> str:
    v = profile.verdict
    kind = f" ({v.cpu_kind})" if v.cpu_kind else ""
    return (
        f"concdiag: {bound_words(v.bound)}{kind} -> {recommendation_words(v.recommendation)} "
        f"(confidence {v.confidence:.2f})"
    )


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def _short_lines(profile: Profile, written: list[Path]) -> list[str]:
    v = profile.verdict
    lines = [_headline(profile)]
    deadlock = profile.locks.deadlock if profile.locks is not None else None
    lines.append("  why: " + (deadlock.message if deadlock else first_sentence(v.summary)))
    lines.append("  " + " · ".join(f"{f.label}: {f.value}" for f in key_figures(profile)))
    measured = _measured_line(profile)
    if measured:
        lines.append(measured)
    change = _change_line(profile)
    if change:
        lines.append(change)
    incomplete = _incomplete(profile)
    if incomplete:
        lines.append("  " + "; ".join(incomplete))
    notes = sum(counted for _, counted in _details(profile))
    if notes:
        lines.append(
            f"  {notes} more note{'s' if notes > 1 else ''} in the report (--verbose prints "
            f"{'them' if notes > 1 else 'it'})"
        )
    if written:
        lines.append("  wrote " + ", ".join(str(p) for p in written))
    return lines


def _change_line(profile: Profile) -> str | None:
    """What to change and where: the current model's advice when it does not fit (the
    deadlock's fix for a deadlock), else nothing to change."""
    v = profile.verdict
    current = v.current_model
    if v.recommendation == "none":
        return "  change: " + current.advice
    if current.matches is False:
        return "  change: " + current.advice
    return None


def _measured_line(profile: Profile) -> str | None:
    """`whatif`'s alternatives on one line: each one's median wall and speed-up."""
    w = profile.whatif
    if w is None:
        return None
    rows = alternative_rows(w)
    if not rows:
        return f"  measured: {w.message}"
    parts = []
    for row in rows:
        figure = row.wall or row.status
        gain = f" ({row.speedup})" if row.speedup and not row.as_written else ""
        parts.append(f"{row.label} {figure}{gain}")
    return "  measured: " + "; ".join(parts)


def _incomplete(profile: Profile) -> list[str]:
    run = profile.run
    out = []
    if run.partial:
        out.append("partial profile: " + "; ".join(run.partial_reasons))
    if run.exit.status != "ok":
        out.append(f"target {run.exit.description}")
    return out


def _details(profile: Profile) -> list[tuple[str, bool]]:
    """The lines ``--verbose`` prints after the figures, each with whether the short summary
    counts it as a note: not a deadlock's lines (the short summary's why), nor a lock
    line's continuation, nor whatif's rows (its `measured:` line)."""
    deadlocked = profile.locks is not None and profile.locks.deadlock is not None
    out = [(line, not deadlocked and not line.startswith("    ")) for line in text_lines(profile)]
    waits, computes = highlights(profile, limit=1)
    out += [(f"  deep: {h.sentence()}", True) for h in waits + computes]
    if profile.tree is not None:
        out.append((f"  process tree: {profile.tree.note}", True))
    if profile.whatif is not None:
        # what whatif says beyond its alternatives' rows: failures, unswapped sites, load
        shown = 1 + len(alternative_rows(profile.whatif))
        out += [(line, i >= shown) for i, line in enumerate(summary_lines(profile))]
    if profile.run.overhead.note:
        out.append((f"  note: {profile.run.overhead.note}", True))
    out += [(f"  note: {note}", True) for note in clock_notes(profile)]
    return out


def _verbose_lines(profile: Profile, written: list[Path]) -> list[str]:
    v = profile.verdict
    lines = [_headline(profile), f"  {v.summary}"]
    lines += [f"  {f.label}: {f.value}" for f in key_figures(profile)]
    lines += [f"  {line}" for line in _incomplete(profile)]
    lines += [line for line, _ in _details(profile)]
    lines += [f"  wrote {path}" for path in written]
    return lines
