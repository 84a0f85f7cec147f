"""The terminal summary after a run: short by default, every note with --verbose."""

from __future__ import annotations

from pathlib import Path

import pytest

from concdiag.analysis import replay_profile
from concdiag.render.text import SHORT_SUMMARY_LINES, first_sentence, summary_text
from conftest import load_sample_recording
from helpers import context
from test_sample_verdicts import TARGETS

WRITTEN = [Path("reports/x.json"), Path("reports/x.html")]


@pytest.mark.parametrize("name", TARGETS)
def test_each_recorded_samples_summary_is_short_and_verbose_keeps_every_note(name: str) -> None:
    profile = replay_profile(load_sample_recording(name), context(f"{name}.py"))
    short = summary_text(profile, WRITTEN).splitlines()
    verbose = summary_text(profile, WRITTEN, verbose=True).splitlines()
    assert len(short) <= SHORT_SUMMARY_LINES, "\n".join(short)
    assert short[0] == verbose[0] and short[0].startswith("concdiag: ")
    assert short[-1] == "  wrote reports/x.json, reports/x.html"
    v = profile.verdict
    if v.current_model.matches is False or v.recommendation == "none":
        assert any(line.startswith("  change: ") for line in short)
    notes = [line for line in verbose if line.startswith("  note: ")]
    if notes:
        folded = next(line for line in short if "in the report (--verbose prints" in line)
        assert int(folded.split()[0]) >= len(notes)
    assert not any(line.startswith("  note: ") for line in short)


def test_the_why_is_the_summarys_first_sentence() -> None:
    assert first_sentence("Uses 0.20 s of CPU. It runs threads now.") == "Uses 0.20 s of CPU."
    assert first_sentence("One sentence, e.g. this one.") == "One sentence, e.g. this one."
