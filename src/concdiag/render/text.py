"""The short terminal summary printed after a run."""

from __future__ import annotations

from pathlib import Path

from concdiag.model import Profile
from concdiag.render.deep_view import highlights
from concdiag.render.figures import bound_words, clock_notes, key_figures
from concdiag.render.locks_view import text_lines
from concdiag.render.whatif_view import summary_lines


def summary_text(profile: Profile, written: list[Path]) -> str:
    v = profile.verdict
    kind = f" ({v.cpu_kind})" if v.cpu_kind else ""
    lines = [
        f"concdiag: {bound_words(v.bound)}{kind} -> recommend {v.recommendation} "
        f"(confidence {v.confidence:.2f})",
        f"  {v.summary}",
    ]
    lines += [f"  {f.label}: {f.value}" for f in key_figures(profile)]
    run = profile.run
    if run.partial:
        lines.append("  partial profile: " + "; ".join(run.partial_reasons))
    if run.exit.status != "ok":
        lines.append(f"  target {run.exit.description}")
    lines += text_lines(profile)
    waits, computes = highlights(profile, limit=1)
    lines += [f"  deep: {h.sentence()}" for h in waits + computes]
    if profile.tree is not None:
        lines.append(f"  process tree: {profile.tree.note}")
    lines += summary_lines(profile)
    if run.overhead.note:
        lines.append(f"  note: {run.overhead.note}")
    lines += [f"  note: {note}" for note in clock_notes(profile)]
    for path in written:
        lines.append(f"  wrote {path}")
    return "\n".join(lines)
