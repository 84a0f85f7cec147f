"""End-to-end helpers: run the real `concdiag` command on real targets in tmp_path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_targets"
_EXPECT = re.compile(r"Expected verdict:\s*bound=(\w+)\s+cpu_kind=(\w+)\s+recommendation=(\w+)")
_MODEL = re.compile(r"Current model:\s*(\w+)")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    json_path: Path
    html_path: Path

    @property
    def profile(self) -> dict[str, Any]:
        return json.loads(self.json_path.read_text())  # type: ignore[no-any-return]


def expected(script: Path) -> tuple[str, str | None, str, str]:
    text = script.read_text()
    m = _EXPECT.search(text)
    assert m, f"{script.name} has no 'Expected verdict:' line"
    model = _MODEL.search(text)
    assert model, f"{script.name} has no 'Current model:' line"
    kind = None if m.group(2) == "none" else m.group(2)
    return m.group(1), kind, m.group(3), model.group(1)


def wait_threads(pid: int, count: int, timeout_s: float = 15.0) -> None:
    """Until process ``pid`` runs ``count`` threads (so a target is really under way)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(os.listdir(f"/proc/{pid}/task")) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} never reached {count} threads")


def running(argv: list[str], threads: int) -> Iterator[subprocess.Popen[bytes]]:
    """A target process once it runs ``threads`` threads; killed when the caller is done."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_threads(proc.pid, threads)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def concdiag(
    *args: str, cwd: Path | None = None, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "concdiag", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=timeout,
    )


@pytest.fixture
def profile_run(tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(*target: str, options: tuple[str, ...] = (), stdin: str | None = None) -> Run:
        json_path = tmp_path / "profile.json"
        html_path = tmp_path / "report.html"
        proc = concdiag(
            "profile",
            "--json",
            str(json_path),
            "-o",
            str(html_path),
            *options,
            *target,
            stdin=stdin,
            cwd=tmp_path,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr, json_path, html_path)

    return run
