"""A recording carries how to read it: replayed on another machine it gives the same profile."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from concdiag.analysis import replay_profile
from concdiag.recording import syscalls
from concdiag.recording.recording import RECORDING_VERSION, Recording
from concdiag.recording.records import ThreadObservation, Tick
from conftest import DATA
from helpers import context

RECORDINGS = sorted(p.name.split(".")[0] for p in DATA.glob("*.recording.json"))


def _profile(rec: Recording) -> dict[str, object]:
    data = json.loads(replay_profile(rec, context()).to_json())
    data["run"].pop("platform")
    return data


def _as_aarch64(rec: Recording) -> Recording:
    """The same run as an aarch64 machine with a 300 Hz clock tick would have recorded it.

    (Linux reports USER_HZ 100 on both architectures; 300 checks the unit is read, not assumed.)
    """
    x86, arm = syscalls.X86_64, syscalls.AARCH64
    renumber = {}
    for kind in ("futex", "sleep", "file_lock"):
        for a, b in zip(sorted(getattr(x86, kind)), sorted(getattr(arm, kind)), strict=True):
            renumber[a] = b
    # epoll_wait (x86_64 only) and epoll_pwait both become aarch64's epoll_pwait
    renumber.update({232: 22, 281: 22, 441: 441})
    scale = 3  # integral, so CPU ticks stay whole numbers

    def obs(o: ThreadObservation) -> ThreadObservation:
        number = renumber.get(o.syscall, o.syscall) if o.syscall is not None else None
        # A number that means something else on aarch64 must not collide with a wait kind.
        if o.syscall is not None and o.syscall not in renumber and number in renumber.values():
            number = 100_000 + o.syscall
        return dataclasses.replace(o, syscall=number, cpu_ticks=o.cpu_ticks * scale)

    ticks = [
        dataclasses.replace(
            t,
            process_cpu_ticks=t.process_cpu_ticks * scale,
            threads=tuple(obs(o) for o in t.threads),
        )
        for t in rec.ticks
    ]
    return dataclasses.replace(
        rec, ticks=ticks, syscalls=arm, clock_ticks_hz=100 * scale, platform="Linux aarch64"
    )


@pytest.mark.parametrize("name", RECORDINGS)
def test_replay_ignores_the_analysing_host(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recording.load(DATA / f"{name}.recording.json")
    expected = _profile(rec)
    # Pretend to analyse on an aarch64 machine with another clock tick.
    monkeypatch.setattr(syscalls, "HOST", syscalls.AARCH64)
    monkeypatch.setattr("os.sysconf", lambda _name: 250)
    assert _profile(Recording.load(DATA / f"{name}.recording.json")) == expected


@pytest.mark.parametrize("name", RECORDINGS)
def test_a_recording_from_another_architecture_reads_the_same(name: str) -> None:
    rec = Recording.load(DATA / f"{name}.recording.json")
    expected = _profile(rec)
    got = _profile(_as_aarch64(rec))
    assert got["verdict"] == expected["verdict"]
    assert got["timeline"]["cores_used"] == pytest.approx(expected["timeline"]["cores_used"])
    assert got["summary"]["thread_seconds"] == expected["summary"]["thread_seconds"]
    assert got["processes"] == expected["processes"]


def test_recordings_save_how_to_read_them(tmp_path: Path) -> None:
    rec = Recording.load(DATA / "cpu_threads.recording.json")
    assert rec.syscalls == syscalls.X86_64 and rec.clock_ticks_hz == 100  # version 1 defaults
    arm = _as_aarch64(rec)
    path = tmp_path / "arm.recording.json"
    arm.save(path)
    raw = json.loads(path.read_text())
    assert raw["version"] == RECORDING_VERSION
    back = Recording.load(path)
    assert back.syscalls == syscalls.AARCH64
    assert back.clock_ticks_hz == 300
    assert back.platform == "Linux aarch64"
    assert isinstance(back.ticks[0], Tick)
