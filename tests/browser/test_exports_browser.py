"""Exports opened in the viewers their users open them in, offline: speedscope's own built app
(the npm package's ``dist/release/index.html``), found at $CONCDIAG_SPEEDSCOPE (`.ci/run`
installs it). Without it the test skips, unless CONCDIAG_REQUIRE_BROWSER is set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser.conftest import Watched
from concdiag.render.speedscope import SpeedscopeRenderer
from test_exports import busy_profile
from test_render import hostile_profile


def speedscope_app() -> Path:
    found = os.environ.get("CONCDIAG_SPEEDSCOPE")
    if found and Path(found).is_file():
        return Path(found)
    reason = "speedscope's built app is not installed (set CONCDIAG_SPEEDSCOPE; .ci/run does)"
    if os.environ.get("CONCDIAG_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests are required here but {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("which", ["busy", "hostile"])
def test_speedscope_opens_the_export_with_every_thread(
    watched: Watched, tmp_path: Path, which: str
) -> None:
    app = speedscope_app()
    profile = busy_profile() if which == "busy" else hostile_profile()
    export = tmp_path / "p.speedscope.json"
    export.write_text(SpeedscopeRenderer().render(profile), encoding="utf-8")
    watched.open(app)
    watched.page.set_input_files("input[type=file]", str(export))
    threads = {(s.pid, s.tid) for s in profile.stacks}
    # speedscope names the file's profile in the window title, and shows "(1/N)" for N threads
    watched.page.wait_for_function("document.title.startsWith('concdiag')", timeout=10_000)
    body = watched.page.inner_text("body")
    assert f"(1/{len(threads)})" in body
    assert watched.page_errors == []
    assert watched.dialogs == []  # a hostile name ran no script
    assert watched.console_errors == []
