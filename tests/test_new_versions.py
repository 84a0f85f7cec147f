"""What 3.14 and 3.15 need beyond the debug offsets: finding ``_PyRuntime``, names of
free-threaded builds, and the in-process collector when py-spy cannot read the version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from concdiag.collectors import elf, launch, pyspy
from concdiag.collectors.inprocess import InProcessCollector
from concdiag.collectors.remote_interpreter import SUPPORTED, major_minor
from concdiag.collectors.target_invocation import TargetInvocation
from concdiag.recording.recording import RecordingDraft
from helpers import target_info


def test_runtime_section_is_where_the_symbol_is() -> None:
    images = elf.interpreter_images(elf.read_maps(__import__("os").getpid()), sys.executable)
    for image in images:
        try:
            symbols = elf.read_symbols(Path(image), {"_PyRuntime"})
        except elf.ElfError:
            continue
        if "_PyRuntime" in symbols:
            section = elf.section_address(Path(image), elf.RUNTIME_SECTION)
            assert section in (None, symbols["_PyRuntime"])
            return
    pytest.fail("no image with _PyRuntime")


@pytest.mark.parametrize(
    ("path", "free_threaded"),
    [
        ("/usr/bin/python3.14t", True),
        ("/usr/lib/libpython3.14t.so.1.0", True),
        ("/usr/lib/libpython3.13.so.1.0", False),
        ("/usr/bin/python3", None),
    ],
)
def test_free_threaded_from_name(path: str, free_threaded: bool | None) -> None:
    assert elf.free_threaded_from_name(path) is free_threaded


def test_versions() -> None:
    assert SUPPORTED == ((3, 10), (3, 15))
    assert major_minor("3.15.0a2") == (3, 15)
    assert major_minor("unknown") is None


class _NoStacks:
    """A tracing collector whose py-spy could not read the target."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pyspy_error = "py-spy failed: Error: Unsupported version of Python: 3.14.0"
        self.stopped = False

    def start(self) -> None: ...

    def stop_before_go(self) -> None:
        self.stopped = True


def test_pyspy_unable_to_read_the_version_gives_way_to_the_inprocess_collector(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(launch, "OutOfProcessCollector", _NoStacks)
    monkeypatch.delenv("CONCDIAG_FORCE_INPROCESS", raising=False)
    request = launch.LaunchRequest(TargetInvocation("x.py", False, (), "python"), 100.0, None)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        events = SimpleNamespace(ident_to_tid={})
        run = launch._Run(request, child, events, lambda *a: None, 0.0)  # type: ignore[arg-type]
        run.recording = RecordingDraft(rate_hz=100.0, target=target_info())
        collector = run._collector(None, tmp_path / "samples.jsonl")
    finally:
        child.kill()
        child.wait()
    assert isinstance(collector, InProcessCollector)
    assert run.recording.notes == [
        "in-process collector used: py-spy failed: Error: Unsupported version of Python: 3.14.0"
    ]


def test_a_real_pyspy_process_refusing_the_version_gives_way(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A fake py-spy that answers as py-spy 0.4.3 does on 3.15 (its versions end at 3.14)."""
    fake = tmp_path / "py-spy"
    fake.write_text("#!/bin/sh\necho 'Error: Unsupported version of Python: 3.15.0' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(pyspy, "find_pyspy", lambda: str(fake))
    recorder = pyspy.PySpyRecorder(os.getpid(), 100.0)
    assert not recorder.start(timeout_s=5)
    assert recorder.error == "py-spy failed: Error: Unsupported version of Python: 3.15.0"
    assert any(sign in recorder.error for sign in launch.PYSPY_GIVES_WAY)
