"""The measured alternatives in Chromium: the section renders as text, the badge links to it."""

from __future__ import annotations

from pathlib import Path

from browser.conftest import Watched
from browser.test_report_browser import (
    assert_clean,
    assert_fits_at_1280_and_800,
    assert_verdict_above_the_fold,
    write_report,
)
from test_whatif import _with_whatif

HOSTILE = "<img src=x onerror=alert(1)>"


def test_the_measured_alternatives_section(
    watched: Watched, tmp_path: Path, artifacts: Path
) -> None:
    profile = _with_whatif(HOSTILE)
    report = write_report(profile, tmp_path / "whatif.html")
    w = watched
    w.open(report)
    assert_clean(w, report)
    assert_verdict_above_the_fold(w, profile.verdict.recommendation)
    badge = w.page.locator('[data-testid="whatif-badge"]')
    assert badge.is_visible() and badge.get_attribute("href") == "#whatif"
    rows = w.page.locator("#whatif-table tbody tr")
    assert rows.count() == len(profile.whatif.alternatives) if profile.whatif else 0
    failures = w.page.inner_text('[data-testid="whatif-failures"]')
    assert HOSTILE in failures  # shown as text, never run
    assert w.page.evaluate("document.images.length") == 0
    badge.click()
    assert w.page.evaluate("location.hash") == "#whatif"
    w.page.locator("#whatif").screenshot(path=str(artifacts / "report-whatif.png"))
    assert_fits_at_1280_and_800(w, report, artifacts)
