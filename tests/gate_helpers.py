"""Profiles of recorded sample runs, with the thread/pool sites scanned from a copy of the
sample script in a temporary project, so findings point at real lines."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from concdiag.analysis import replay_profile
from concdiag.gate.measure import measure
from concdiag.gate.result import Measurement
from concdiag.model import Profile
from conftest import SAMPLES, load_recording
from helpers import context


def recorded_profile(name: str, project: Path) -> Profile:
    """The recorded run of sample ``name``, its script copied to ``project/sample_targets``."""
    script = project / "sample_targets" / f"{name}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES / f"{name}.py", script)
    ctx = replace(context(f"sample_targets/{name}.py"), target_file=str(script), cwd=str(project))
    return replay_profile(load_recording(name), ctx)


def recorded_measurement(name: str, project: Path) -> Measurement:
    return measure([recorded_profile(name, project)], project)


def line_of(path: Path, needle: str) -> int:
    """1-based number of the first line of ``path`` containing ``needle``."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
