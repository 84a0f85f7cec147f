"""The event loop, measured from outside, on a live asyncio program held twice: by a callback
computing (GIL held) and by one calling the blocking time.sleep (GIL released).

The callbacks time themselves. Margin: the profile's stretch over the callback's own time
was 0.999-1.033 for both, at their exact lines and kinds, in 20 of 20 runs (load 0.95-1.44,
2-core machine); the assert is the issue's 20%.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

TARGET = ROOT / "tests" / "e2e" / "targets" / "asyncio_blocking.py"
#: How far a stretch may be from the callback's own time, as a share of it.
DURATION_TOLERANCE = 0.2
ADVICE = {"cpu": "loop.run_in_executor with a ProcessPoolExecutor", "blocking": "asyncio.to_thread"}


def test_each_callback_that_held_the_loop_is_found_with_its_line_time_and_fix(
    profile_run: Any, tmp_path: Path
) -> None:
    truth_path = tmp_path / "truth.json"
    run = profile_run(str(TARGET), str(truth_path))
    assert run.code == 0, run.stderr
    truth = json.loads(truth_path.read_text())
    data = json.loads(run.json_path.read_text())
    loop = data["event_loop"]
    assert loop["thread"] == "MainThread"
    reason = next(r for r in data["verdict"]["reasons"] if r["rule"] == "event_loop_blocked")
    for name, kind in (("crunch", "cpu"), ("block", "blocking")):
        own = truth[name]
        (stall,) = [s for s in loop["stalls"] if s["function"] == name]
        assert (stall["line"], stall["kind"]) == (own["line"], kind)
        assert stall["duration_s"] == pytest.approx(own["seconds"], rel=DURATION_TOLERANCE)
        named = reason["message"].split(f"`{name}` (asyncio_blocking.py:{own['line']})", 1)
        assert len(named) == 2, reason["message"]
        assert ADVICE[kind] in named[1].split("`", 1)[0]
    assert 'data-testid="event-loop"' in run.html_path.read_text()
