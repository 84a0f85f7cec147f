"""The measured alternatives in Chromium: the section renders as text, the badge links to it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from browser.conftest import Watched
from browser.test_report_browser import (
    assert_clean,
    assert_fits_at_1280_and_800,
    assert_verdict_above_the_fold,
    write_report,
)
from concdiag.model import Profile
from concdiag.model.whatif import ScalingCurve, ScalingPoint
from test_whatif import _with_whatif

HOSTILE = "<img src=x onerror=alert(1)>"


def with_scaling(profile: Profile) -> Profile:
    assert profile.whatif is not None
    curve = ScalingCurve(
        family="processes",
        model="multiprocessing",
        measured=[ScalingPoint(1, 1.0, 1.0, 1.0), ScalingPoint(2, 1.8, 1.7, 1.9)],
        serial_share=0.11,
        serial_share_low=0.05,
        serial_share_high=0.18,
        usl_sigma=0.11,
        usl_kappa=None,
        predicted=[ScalingPoint(4, 3.0, 2.6, 3.4), ScalingPoint(8, 4.5, 3.6, 5.6)],
        note="Measured up to 2 workers on 2 cores.",
    )
    return dataclasses.replace(profile, whatif=dataclasses.replace(profile.whatif, scaling=[curve]))


def test_the_measured_alternatives_section(
    watched: Watched, tmp_path: Path, artifacts: Path
) -> None:
    profile = with_scaling(_with_whatif(HOSTILE))
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
    chart = w.page.locator('[data-testid="whatif-scaling"] svg')
    assert chart.count() == 1 and "predicted 4 workers 2.60-3.40x" in (
        chart.get_attribute("aria-label") or ""
    )
    assert_fits_at_1280_and_800(w, report, artifacts)
