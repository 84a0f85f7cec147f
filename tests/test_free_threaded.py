"""Free-threaded builds: the verdict with the GIL off, and the import that turns it back on."""

from __future__ import annotations

import json
import os
import warnings

import pytest

from concdiag.collectors import bootstrap_events
from helpers import PID, load_bootstrap, profile_of, synthetic


def test_cpu_bound_python_threads_with_the_gil_off_get_threading() -> None:
    stack = (("<module>", "/app/work.py", 1), ("crunch", "/app/work.py", 10))
    pattern = {PID: ["L"], PID + 1: ["H"], PID + 2: ["H"], PID + 3: ["H"], PID + 4: ["H"]}
    recording = synthetic(
        pattern, ticks=300, gil_enabled=False, stacks=dict.fromkeys(pattern, stack)
    )
    verdict = profile_of(recording).verdict
    assert verdict.bound == "cpu"
    assert verdict.recommendation == "threading"
    assert any(reason.rule == "free_threaded" for reason in verdict.reasons)


def test_the_import_that_turns_the_gil_on_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_bootstrap()
    read_fd, write_fd = os.pipe()
    monkeypatch.setattr(module, "_EVENT_FD", write_fd)
    original = warnings._showwarnmsg  # type: ignore[attr-defined]
    try:
        module._watch_gil_enabling()
        with pytest.warns(RuntimeWarning, match="GIL"):
            warnings.warn(
                "The global interpreter lock (GIL) has been enabled to load module "
                "'fastjson._speedups', which has not declared that it can run safely without "
                "the GIL. To override this behavior and keep the GIL disabled (at your own "
                "risk), run with PYTHON_GIL=0 or -Xgil=0.",
                RuntimeWarning,
                stacklevel=1,
            )
    finally:
        warnings._showwarnmsg = original  # type: ignore[attr-defined]
        os.close(write_fd)
    with os.fdopen(read_fd) as lines:
        message = json.loads(lines.readline())
    assert message["type"] == "gil_enabled" and message["module"] == "fastjson._speedups"

    events = bootstrap_events.BootstrapEvents.__new__(bootstrap_events.BootstrapEvents)
    events.hello = {"gil_enabled": False, "pid": message["pid"]}
    events.gil_enabled_by = [(message["t"], message["module"])]
    events.gil_enabled_at_exit = True
    note = events.gil_turned_on(message["t"] - 1.5)
    assert note is not None
    assert "turned back on 1.50 s into the run by importing fastjson._speedups" in note
    events.gil_enabled_by = []
    assert "was not seen" in str(events.gil_turned_on(0.0))
