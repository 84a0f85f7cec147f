"""Shared fixtures: recorded runs, and a guard that no profiler is left running."""

from __future__ import annotations

import json
import lzma
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from concdiag.recording.recording import Recording

#: Every profile the suite builds, here or in a concdiag it starts, must keep its verdict
#: consistent with its figures: a broken rule is an error, not a note.
os.environ["CONCDIAG_STRICT_VERDICT"] = "1"

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_targets"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests run one after another on one pytest-xdist worker (group "live"), in
    this order: those asserting measured figures (marked `figures`) last. The unit tests go to
    the other worker and are done long before (about 50 s against 80 s of live mechanics), so
    the figures are taken with the machine to themselves, as their margins were
    (tests/e2e/measure_margins.py)."""
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group("live"))

    def rank(item: pytest.Item) -> int:
        if not item.get_closest_marker("e2e"):
            return 0
        # a shared sample run is made when first asked for: by a test in the last stretch
        figures = item.get_closest_marker("figures") or "sample_runs" in item.fixturenames
        return 2 if figures else 1

    items.sort(key=rank)  # stable: collection order within each rank


@pytest.fixture(autouse=True)
def check_profiler_state() -> Iterator[None]:
    """A test must not leave sys.setprofile or yappi running (it would skew later tests)."""
    assert sys.getprofile() is None
    yield
    assert sys.getprofile() is None, "a test left a profile function installed"
    yappi = sys.modules.get("yappi")
    if yappi is not None:
        assert not yappi.is_running(), "a test left yappi running"


def load_recording(name: str) -> Recording:
    return Recording.load(DATA / f"{name}.recording.json")


#: A path into the checkout a sample was recorded in: its sample targets and bench scripts.
_RECORDED_CHECKOUT = re.compile(r'"[^"]*?/(sample_targets|bench)/')


def load_sample_recording(name: str) -> Recording:
    """A run recorded by tests/data/record_samples.py (xz-compressed), with the paths of the
    checkout it was recorded in made this checkout's: lock names and critical sections are
    read from the target's source, which must be found wherever the suite runs."""
    with lzma.open(DATA / "samples" / f"{name}.recording.json.xz", "rt") as f:
        text = _RECORDED_CHECKOUT.sub(lambda m: f'"{ROOT}/{m.group(1)}/', f.read())
    return Recording.from_dict(json.loads(text))


@pytest.fixture
def recording_loader() -> object:
    return load_recording


@dataclass(frozen=True)
class SampleRun:
    """One real `concdiag profile` of a sample target; read-only, shared by the session."""

    code: int
    stdout: str
    stderr: str
    json_path: Path
    html_path: Path
    wall_s: float

    @property
    def profile(self) -> dict[str, Any]:
        return json.loads(self.json_path.read_text())  # type: ignore[no-any-return]


#: Options some sample targets are profiled with, to keep their runs short.
SAMPLE_OPTIONS = {"deadlock.py": ("--deadlock-after", "1")}


@pytest.fixture(scope="session")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], SampleRun]:
    """Profile each sample target once per session: the verdict, report and browser tests
    all read the same run instead of profiling the target again."""
    cache: dict[Path, SampleRun] = {}

    def run(script: Path) -> SampleRun:
        if script not in cache:
            folder = tmp_path_factory.mktemp(script.stem)
            json_path, html_path = folder / "profile.json", folder / "report.html"
            started = time.monotonic()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "concdiag",
                    "profile",
                    "--json",
                    str(json_path),
                    "-o",
                    str(html_path),
                    *SAMPLE_OPTIONS.get(script.name, ()),
                    str(script),
                ],
                capture_output=True,
                text=True,
                cwd=folder,
                timeout=180,
            )
            cache[script] = SampleRun(
                proc.returncode,
                proc.stdout,
                proc.stderr,
                json_path,
                html_path,
                time.monotonic() - started,
            )
        return cache[script]

    return run
