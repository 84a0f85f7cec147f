"""Drive Debian's Chromium with Playwright: open reports from file:// and watch what they do.

Playwright's own browser download is not available here, so the system Chromium is launched
by path. Without Chromium or Playwright the tests skip, unless CONCDIAG_REQUIRE_BROWSER is
set (CI sets it), where a missing browser is a failure, not a silent pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _unavailable(reason: str) -> None:
    if os.environ.get("CONCDIAG_REQUIRE_BROWSER"):
        pytest.fail(f"browser tests are required here but {reason}")
    pytest.skip(reason)


@dataclass
class Watched:
    """A page and everything it did: console errors, uncaught errors, requests, dialogs."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def open(self, path: Path) -> None:
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_load_state("load")

    def external_requests(self, allowed: Path) -> list[str]:
        own = allowed.resolve().as_uri()
        return [url for url in self.requests if url != own]


@pytest.fixture(scope="session")
def browser_context_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    executable = _chromium()
    if executable is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        contexts: dict[str, Any] = {}

        def make(color_scheme: str = "light") -> Any:
            """One browser per colour scheme for the session (each test gets a fresh page)."""
            if color_scheme in contexts:
                return contexts[color_scheme]
            profile_dir = tmp_path_factory.mktemp("chromium-profile")
            context = p.chromium.launch_persistent_context(
                str(profile_dir),
                executable_path=executable,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport=VIEWPORT,
                color_scheme=color_scheme,
                offline=True,
            )
            contexts[color_scheme] = context
            return context

        yield make
        for context in contexts.values():
            context.close()


@pytest.fixture
def watched(browser_context_factory: Any) -> Iterator[Watched]:
    yield from _watched(browser_context_factory("light"))


@pytest.fixture
def watched_dark(browser_context_factory: Any) -> Iterator[Watched]:
    yield from _watched(browser_context_factory("dark"))


def _watched(context: Any) -> Iterator[Watched]:
    page = context.new_page()
    w = Watched(page)
    page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.page_errors.append(str(e)))
    page.on("request", lambda r: w.requests.append(r.url))

    def dialog(d: Any) -> None:
        w.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    yield w
    page.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: $CONCDIAG_ARTIFACTS if set, else pytest's tmp (never the repo)."""
    base = os.environ.get("CONCDIAG_ARTIFACTS")
    folder = Path(base) if base else tmp_path
    folder = folder / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
