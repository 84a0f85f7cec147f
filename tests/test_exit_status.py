"""How concdiag's exit status is chosen: the target's own, or concdiag's when it failed."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import pytest

from concdiag import session
from concdiag.analysis.accounting.streaming import AccountingSink
from concdiag.collectors.protocol import Collected
from concdiag.errors import EXIT_CANNOT_PROFILE, CannotProfileError, target_exit_code
from concdiag.recording.recording import RecordingDraft
from helpers import context, target_info


@pytest.mark.parametrize(
    ("code", "signal_number", "expected"),
    [(0, None, 0), (1, None, 1), (2, None, 2), (5, None, 5), (None, 9, 137), (None, 15, 143)],
)
def test_the_target_status_is_what_a_shell_would_report(
    code: int | None, signal_number: int | None, expected: int
) -> None:
    assert target_exit_code(code, signal_number) == expected


def test_analysis_failure_is_concdiags_and_names_the_targets_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(session, "build_profile", broken)
    recording = RecordingDraft(rate_hz=100, target=target_info())
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ctx = dataclasses.replace(context(), exit_code=3)
    with pytest.raises(CannotProfileError) as raised:
        session._build_and_write(
            Collected(recording, now, now), AccountingSink(), ctx, tmp_path / "p.json",
            tmp_path / "p.html",
        )  # fmt: skip
    assert raised.value.exit_code == EXIT_CANNOT_PROFILE
    assert "analysis failed (RuntimeError: boom)" in raised.value.message
    assert raised.value.message.endswith("the target exited with status 3")
    assert (tmp_path / "p.recording.json").is_file()  # what was gathered is kept
