"""Shared fixtures: recorded runs, and a guard that no profiler is left running."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from concdiag.collectors.records import Recording

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_targets"


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


@pytest.fixture
def recording_loader() -> object:
    return load_recording
