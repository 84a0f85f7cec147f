"""The report's Locks section in Chromium: a deadlock, and contended locks ranked and sortable."""

from __future__ import annotations

from pathlib import Path

from browser.conftest import Watched
from browser.test_report_browser import assert_clean, write_report
from concdiag.recording.locks import LockTables
from helpers import profile_of
from test_locks import SOURCE, deadlock_tables, lock_bound_recording, tables


def test_the_locks_section_shows_the_deadlock(
    watched: Watched, tmp_path: Path, artifacts: Path
) -> None:
    source = tmp_path / "ledger.py"
    source.write_text(SOURCE)
    rec = lock_bound_recording(source)
    rec.locks = LockTables.from_dict(deadlock_tables(source))
    report = write_report(profile_of(rec), tmp_path / "deadlock.html")
    w = watched
    w.open(report)
    assert_clean(w, report)
    assert w.page.locator('[data-testid="deadlock"]').is_visible()
    assert w.page.locator("#deadlock-cycle tbody tr").count() == 2
    assert w.page.locator('nav a[href="#locks"]').count() == 1
    assert "Deadlock" in w.page.locator('[data-testid="verdict"]').inner_text()
    w.page.locator("#locks").screenshot(path=str(artifacts / "locks-deadlock.png"))


def test_the_locks_table_ranks_sorts_and_links_to_the_detail(
    watched: Watched, tmp_path: Path, artifacts: Path
) -> None:
    source = tmp_path / "ledger.py"
    source.write_text(SOURCE)
    rec = lock_bound_recording(source)
    data = tables(source)
    data["sites"].append(dict(data["sites"][0], line=1, wait_s=9.0, id=1))
    rec.locks = LockTables.from_dict(data)
    report = write_report(profile_of(rec), tmp_path / "contended.html")
    w = watched
    w.open(report)
    assert_clean(w, report)
    rows = w.page.locator("#locks-table tbody tr")
    assert rows.count() == 2
    assert rows.first.get_attribute("id") == "lock-0"  # most waited first
    header = w.page.locator("#locks-table thead th", has_text="waited s")
    header.click()  # numbers sort largest first
    assert header.get_attribute("aria-sort") == "descending"
    assert w.page.locator("#locks-table tbody tr").first.get_attribute("id") == "lock-0"
    header.click()
    assert w.page.locator("#locks-table tbody tr").first.get_attribute("id") == "lock-1"
    assert w.page.locator("#lock-detail-0").is_visible()
    w.page.locator("#locks").screenshot(path=str(artifacts / "locks-contended.png"))
