"""The HTML report as a reviewer sees it, in Chromium: it renders, it works, it runs nothing.

Screenshots are saved under $CONCDIAG_ARTIFACTS/test-artifacts (or pytest's tmp).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from browser.conftest import VIEWPORT, Watched
from concdiag.analysis import replay_profile
from concdiag.model import Profile
from concdiag.render.html import HtmlRenderer
from conftest import load_sample_recording
from helpers import PID, context
from test_exports import busy_profile, empty_profile
from test_render import HOSTILE, hostile_profile

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_targets"


def with_child_process(profile: Profile) -> Profile:
    root = profile.processes[0]
    child = dataclasses.replace(
        root, pid=PID + 50, ppid=root.pid, is_root=False, command=["python", "-c", "child"]
    )
    return dataclasses.replace(profile, processes=[root, child])


def write_report(profile: Profile, path: Path) -> Path:
    path.write_text(HtmlRenderer().render(profile), encoding="utf-8")
    return path


def assert_clean(w: Watched, report: Path) -> None:
    assert w.console_errors == []
    assert w.page_errors == []
    assert w.external_requests(report) == []
    assert w.dialogs == []


def assert_verdict_above_the_fold(w: Watched, recommendation: str) -> None:
    rec = w.page.locator('[data-testid="recommendation"]')
    assert rec.is_visible()
    assert rec.inner_text() == ("no model" if recommendation == "none" else recommendation)
    box = w.page.locator('[data-testid="verdict"]').bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box


def column(w: Watched, index: int) -> list[str]:
    return w.page.eval_on_selector_all(
        "#thread-table tbody tr:not(.group)",
        f"rows => rows.map(r => r.cells[{index}].textContent.trim())",
    )


def flame_total(w: Watched) -> int:
    return int(w.page.get_attribute("#flame", "data-total") or "-1")


def test_report_renders_sorts_filters_and_draws(
    watched: Watched, tmp_path: Path, artifacts: Path
) -> None:
    profile = busy_profile()
    report = write_report(profile, tmp_path / "report.html")
    w = watched
    w.open(report)
    assert_clean(w, report)
    assert_verdict_above_the_fold(w, profile.verdict.recommendation)
    w.page.screenshot(path=str(artifacts / "report-top.png"))
    w.page.screenshot(path=str(artifacts / "report-full.png"), full_page=True)

    # sorting: numeric columns sort largest first, then the other way
    tid_header = w.page.locator("#thread-table thead th").nth(0)
    tid_header.click()
    tids = [int(t) for t in column(w, 0)]
    assert tids == sorted(tids, reverse=True) and len(tids) == 3
    assert tid_header.get_attribute("aria-sort") == "descending"
    tid_header.click()
    assert [int(t) for t in column(w, 0)] == sorted(tids)
    w.page.locator("#thread-table thead th").nth(1).click()  # names: A to Z first
    names = column(w, 1)
    assert names == sorted(names, key=str.lower)

    # filtering the thread table
    w.page.fill("#thread-filter", f"worker-{PID + 1}")
    visible = w.page.locator("#thread-table tbody tr:not(.group):visible")
    assert visible.count() == 1
    assert f"worker-{PID + 1}" in visible.first.inner_text()
    w.page.fill("#thread-filter", "")
    assert w.page.locator("#thread-table tbody tr:not(.group):visible").count() == 3

    # the flame graph draws, and filters by thread and by state
    total = sum(s.count for s in profile.stacks)
    assert flame_total(w) == total
    assert w.page.locator("#flame div").count() > 3
    thread_index = [t.tid for p in profile.processes for t in p.threads].index(PID + 1)
    w.page.select_option("#flame-thread", str(thread_index))
    mine = [s for s in profile.stacks if s.tid == PID + 1]
    assert flame_total(w) == sum(s.count for s in mine)
    w.page.uncheck('.flame-state[value="0"]')  # GIL held
    assert flame_total(w) == sum(s.count for s in mine if s.state != "gil_held")
    w.page.check('.flame-state[value="0"]')
    w.page.select_option("#flame-thread", "-1")
    assert flame_total(w) == total
    w.page.locator("#flame div", has_text="work").first.click()
    assert "zoomed into work" in w.page.inner_text("#flame-info")
    w.page.click("#flame-reset")
    assert "zoomed" not in w.page.inner_text("#flame-info")

    # zooming the timeline widens the drawing inside its scroll box
    before = w.page.eval_on_selector("#tl-inner", "e => e.getBoundingClientRect().width")
    w.page.click('[data-zoom="2"]')
    after = w.page.eval_on_selector("#tl-inner", "e => e.getBoundingClientRect().width")
    assert after == pytest.approx(2 * before, rel=0.02)
    assert_clean(w, report)


def test_process_groups_and_dark_mode_and_print(
    watched_dark: Watched, tmp_path: Path, artifacts: Path
) -> None:
    report = write_report(with_child_process(busy_profile()), tmp_path / "tree.html")
    w = watched_dark
    w.open(report)
    assert_clean(w, report)
    assert w.page.locator("#thread-table tr.group").count() == 2
    background = w.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)"  # the dark palette
    w.page.screenshot(path=str(artifacts / "report-dark.png"))
    # sorting keeps each process's threads under its own heading
    w.page.locator("#thread-table thead th").nth(4).click()
    groups = w.page.eval_on_selector_all(
        "#thread-table tbody", "bs => bs.map(b => b.rows[0].classList.contains('group'))"
    )
    assert groups == [True, True]
    w.page.emulate_media(media="print")
    assert not w.page.locator("#flame-controls").is_visible()


def test_hostile_names_render_as_text_and_run_nothing(
    watched: Watched, tmp_path: Path, artifacts: Path
) -> None:
    profile = hostile_profile()
    report = write_report(profile, tmp_path / "hostile.html")
    w = watched
    w.open(report)
    assert_clean(w, report)
    assert w.page.evaluate("document.scripts.length") == 2
    assert w.page.evaluate("document.querySelectorAll('style').length") == 1
    assert HOSTILE in w.page.inner_text("#thread-table")
    assert HOSTILE in w.page.inner_text("#run-details")
    titles = w.page.eval_on_selector_all("#flame div", "ds => ds.map(d => d.title)")
    assert any(HOSTILE in t for t in titles)
    options = w.page.eval_on_selector_all("#flame-thread option", "os => os.map(o => o.text)")
    assert any(HOSTILE in o for o in options)
    w.page.screenshot(path=str(artifacts / "report-hostile.png"), full_page=True)


def test_an_empty_report_still_works(watched: Watched, tmp_path: Path) -> None:
    report = write_report(empty_profile(), tmp_path / "empty.html")
    watched.open(report)
    assert_clean(watched, report)
    assert flame_total(watched) == 0
    assert "0 samples" in watched.page.inner_text("#flame-info")


#: The hostile function runs about 0.7 s in all (two threads of 6 M iterations, 3.11 here):
#: long enough for py-spy, which starts with the target, to sample it at its throttled rate
#: (a run of 0.18 s in all can end before py-spy samples it).
HOSTILE_TARGET = """
import threading

NAME = {name!r}


def crunch(n):
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFF
    return x


names = {{"co_name": NAME}}
if hasattr(crunch.__code__, "co_qualname"):  # what py-spy shows on 3.11+
    names["co_qualname"] = NAME
crunch.__code__ = crunch.__code__.replace(**names)
threads = [threading.Thread(target=crunch, args=(6_000_000,), name=NAME + str(i)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


@pytest.mark.e2e
def test_a_real_hostile_target_renders_as_text(
    watched: Watched, tmp_path: Path, artifacts: Path
) -> None:
    """Thread names, function names, a file path and arguments carrying markup, really run."""
    folder = tmp_path / "x<script>alert(1)<" / "script>\"q'</style>"
    folder.mkdir(parents=True)
    script = folder / "target.py"
    script.write_text(HOSTILE_TARGET.format(name=HOSTILE))
    html = tmp_path / "hostile-run.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "concdiag",
            "profile",
            "--json",
            str(tmp_path / "run.json"),
            "-o",
            str(html),
            str(script),
            "<script>alert(2)</script>",
            "--password=hunter2",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "run.json").read_text())
    assert any(f["function"] == HOSTILE for f in data["frames"]), "py-spy saw the hostile name"
    w = watched
    w.open(html)
    assert_clean(w, html)
    assert w.page.evaluate("document.scripts.length") == 2
    text = w.page.inner_text("body")
    assert "<script>alert(2)</script>" in text
    assert "hunter2" not in w.page.content()
    assert HOSTILE in w.page.inner_text("#hot")
    assert str(script) in w.page.inner_text("#run-details") or "script>" in text
    w.page.screenshot(path=str(artifacts / "report-hostile-run.png"), full_page=True)


ALL_TARGETS = sorted(p for p in SAMPLES.glob("*.py") if "Expected verdict:" in p.read_text())
#: Each target's recorded run (tests/data/samples, the one the verdict tests replay) rendered
#: as `concdiag profile` renders it; opening every report in the browser still costs a second
#: or two each, so by default two shapes (the second has 200 threads); all of them with
#: CONCDIAG_BROWSER_ALL_SAMPLES=1. test_a_real_hostile_target_renders_as_text opens the report
#: a real run wrote.
DEFAULT_TARGETS = {"cpu_threads.py", "io_threads.py"}
TARGETS = [
    p
    for p in ALL_TARGETS
    if os.environ.get("CONCDIAG_BROWSER_ALL_SAMPLES") or p.name in DEFAULT_TARGETS
]


@pytest.mark.parametrize("script", TARGETS, ids=[p.stem for p in TARGETS])
def test_every_sample_targets_report_renders(
    watched: Watched, artifacts: Path, script: Path, tmp_path: Path
) -> None:
    built = replay_profile(load_sample_recording(script.stem), context(script.name))
    profile = Profile.from_dict(json.loads(built.to_json()))  # as written, then rendered
    html = write_report(profile, tmp_path / f"{script.stem}.html")
    w = watched
    w.open(html)
    assert_clean(w, html)
    assert_verdict_above_the_fold(w, profile.verdict.recommendation)
    assert w.page.locator("#flame div").count() > 0 or "0 samples" in w.page.inner_text(
        "#flame-info"
    )
    w.page.screenshot(path=str(artifacts / f"sample-{script.stem}.png"), full_page=True)


#: The page's layout, measured: every pair of visible tables whose boxes overlap, every
#: visible cell wider than the window, and how far the page scrolls sideways.
LAYOUT_JS = """() => {
  const seen = e => e.offsetParent !== null;
  const boxes = [...document.querySelectorAll('table')].filter(seen).map(t => {
    const r = t.getBoundingClientRect();
    return {name: t.id || t.className || (t.closest('section') || {}).id || 'table',
            x0: r.left, x1: r.right, y0: r.top + scrollY, y1: r.bottom + scrollY};
  });
  const overlaps = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    if (a.x0 < b.x1 - 1 && b.x0 < a.x1 - 1 && a.y0 < b.y1 - 1 && b.y0 < a.y1 - 1)
      overlaps.push(a.name + ' / ' + b.name);
  }));
  const vw = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('td, th')].filter(seen)
    .filter(c => c.getBoundingClientRect().width > vw).map(c => c.textContent.slice(0, 60));
  const bars = [...document.querySelectorAll('#flame div')]
    .filter(d => d.getBoundingClientRect().width < 2).length;
  return {overlaps, wide, sideways: document.documentElement.scrollWidth - vw, thin_bars: bars};
}"""

LAYOUT_SAMPLES = [
    "cpu_threads",
    "process_pool",
    "deadlock",
    "lock_convoy",
    "hostile_names",
    "io_process_pool",
]


@pytest.mark.parametrize("name", LAYOUT_SAMPLES)
def test_tables_fit_the_window_at_1280_and_800_px(
    watched: Watched, artifacts: Path, name: str, tmp_path: Path
) -> None:
    built = replay_profile(load_sample_recording(name), context(f"{name}.py"))
    html = write_report(built, tmp_path / f"{name}.html")
    assert_fits_at_1280_and_800(watched, html, artifacts)


def assert_fits_at_1280_and_800(w: Watched, html: Path, artifacts: Path) -> None:
    for width in (1280, 800):
        w.page.set_viewport_size({"width": width, "height": VIEWPORT["height"]})
        w.open(html)
        layout = w.page.evaluate(LAYOUT_JS)
        assert layout == {"overlaps": [], "wide": [], "sideways": 0, "thin_bars": 0}, width
        w.page.screenshot(path=str(artifacts / f"layout-{html.stem}-{width}.png"), full_page=True)
    assert_clean(w, html)


def test_the_event_loop_and_deep_sections_fit_too(
    watched: Watched, artifacts: Path, tmp_path: Path
) -> None:
    """A recorded asyncio run with --deep: the event loop's stall table and the deep tables."""
    from concdiag.recording.recording import Recording

    recording = Recording.load(ROOT / "tests" / "data" / "asyncio_awaits_deep.recording.json")
    built = replay_profile(recording, context("asyncio_awaits.py"))
    assert built.event_loop is not None and built.event_loop.stalls
    html = write_report(built, tmp_path / "asyncio_awaits.html")
    assert_fits_at_1280_and_800(watched, html, artifacts)
    assert watched.page.locator('[data-testid="event-loop-stalls"] tbody tr').count() == 1
