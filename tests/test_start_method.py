"""The speedup model charges the start method the program uses: seen, chosen, or default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from concdiag.analysis.verdict.speedup import START_COSTS, Work, processes_time
from concdiag.analysis.verdict.start_method import (
    default_method,
    method_seen,
    methods_in_source,
    process_start,
)
from concdiag.render.html import HtmlRenderer
from concdiag.render.markdown import MarkdownRenderer, md_escape
from helpers import PID, profile_of, synthetic


@pytest.mark.parametrize(
    ("version", "platform", "method", "reason"),
    [
        ("3.11.7", "Linux 6.1 x86_64", "fork", "default for 3.11 on Linux"),
        ("3.13.0", "Linux 6.1 x86_64", "fork", "default for 3.13 on Linux"),
        ("3.14.2", "Linux 6.1 x86_64", "forkserver", "default for 3.14 on Linux"),
        ("3.15.0", "Linux 6.1 aarch64", "forkserver", "default for 3.15 on Linux"),
        ("3.12.1", "Darwin 23.0 arm64", "spawn", "default on macOS"),
    ],
)
def test_default_by_version_and_platform(
    version: str, platform: str, method: str, reason: str
) -> None:
    assert default_method(version, platform) == (method, reason)


def test_a_start_method_chosen_in_the_source_is_found(tmp_path: Path) -> None:
    script = tmp_path / "work.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "if __name__ == '__main__':\n"
        "    mp.set_start_method('spawn', force=True)\n"
        "    pool = ProcessPoolExecutor(mp_context=mp.get_context(method='forkserver'))\n"
        "    mp.get_context()\n"
    )
    assert methods_in_source(str(script)) == [
        ("spawn", 4, "set_start_method('spawn')"),
        ("forkserver", 5, "get_context('forkserver')"),
    ]
    start = process_start("3.11.7", "Linux", [str(script)], [])
    assert (start.method, start.source) == ("spawn", "source")
    assert start.reason == "set_start_method('spawn') at work.py:4"
    assert start.per_process_s == START_COSTS["spawn"].per_process_s


def _processes(commands: list[list[str]]) -> list:  # type: ignore[type-arg]
    root = profile_of(synthetic({PID: ["H"]})).processes[0]
    root = dataclasses.replace(root, command=["python", "app.py"])
    children = [
        dataclasses.replace(root, pid=PID + i + 1, is_root=False, command=c)
        for i, c in enumerate(commands)
    ]
    return [root, *children]


def test_children_seen_say_which_start_method_ran() -> None:
    spawn = [
        "python",
        "-c",
        "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5)",
    ]
    server = ["python", "-c", "from multiprocessing.forkserver import main; main(3, 4)"]
    assert method_seen(_processes([spawn, spawn])) == (
        "spawn",
        "2 child process(es) started by multiprocessing's spawn",
    )
    assert method_seen(_processes([server, server]))[0] == "forkserver"  # type: ignore[index]
    assert method_seen(_processes([["python", "app.py"]]))[0] == "fork"  # type: ignore[index]
    assert method_seen(_processes([["python", "other.py"]])) is None
    # what ran wins over the source and the default
    start = process_start("3.14.0", "Linux", [], _processes([spawn]))
    assert (start.method, start.source) == ("spawn", "observed")


def test_the_charge_follows_the_method() -> None:
    work = Work(python_cpu_s=4.0, native_cpu_s=0.0, io_s=0.0, lock_s=0.0, cores=4)
    fork = processes_time(work, 4)
    forkserver = processes_time(dataclasses.replace(work, start_method="forkserver"), 4)
    spawn = processes_time(dataclasses.replace(work, start_method="spawn"), 4)
    per_fork = START_COSTS["fork"].per_process_s
    server = START_COSTS["forkserver"]
    assert forkserver == pytest.approx(fork + 4 * (server.per_process_s - per_fork) + server.once_s)
    assert spawn == pytest.approx(fork + 4 * (START_COSTS["spawn"].per_process_s - per_fork))
    assert per_fork < server.per_process_s < START_COSTS["spawn"].per_process_s
    assert processes_time(dataclasses.replace(work, start_method="spawn"), 1) == 4.0


def test_the_profile_records_and_reports_what_was_charged() -> None:
    profile = profile_of(synthetic({PID: ["L"], PID + 1: ["H"], PID + 2: ["H"]}))
    start = profile.verdict.process_start
    assert start is not None
    assert (start.method, start.source, start.reason) == (
        "fork",
        "default",
        "default for 3.11 on Linux",
    )
    speedup = next(r for r in profile.verdict.reasons if r.rule == "predicted_speedup")
    assert speedup.figures["start_method"] == "fork"
    phrase = "fork, 15 ms per process (default for 3.11 on Linux)"
    assert phrase in speedup.message
    assert "Process start-up charged: " + phrase in HtmlRenderer().render(profile)
    assert md_escape(phrase) in MarkdownRenderer().render(profile)
