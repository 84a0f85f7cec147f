"""Attach-mode checks and the process-tree summary, on synthetic inputs."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from concdiag.analysis.accounting.tree import tree_of
from concdiag.collectors import attach, elf, permissions
from concdiag.collectors.target_invocation import TargetInvocation
from concdiag.errors import EXIT_CANNOT_PROFILE, CannotProfileError
from concdiag.model import Frame, ProcessTree, Profile, StackCount
from helpers import PID, profile_of, synthetic


def test_permission_advice_names_each_fix() -> None:
    text = permissions.permission_advice(42, 0, 1000, 1, False, True)
    assert "run concdiag as user root" in text
    assert "ptrace_scope is 1" in text
    assert "--cap-add SYS_PTRACE" in text
    assert permissions.permission_advice(42, 1000, 1000, 3, False, False).count(";") == 0
    assert "disabled" in permissions.permission_advice(42, 1000, 1000, 3, False, False)
    assert "sudo" in permissions.permission_advice(42, None, 1000, None, False, False)


def test_missing_pyspy_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attach, "find_pyspy", lambda: None)
    with pytest.raises(CannotProfileError) as info:
        attach.require_pyspy()
    assert info.value.exit_code == EXIT_CANNOT_PROFILE
    assert "pip install py-spy" in info.value.message


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/usr/lib/libpython3.12.so.1.0", (3, 12)),
        ("/usr/bin/python3.9", (3, 9)),
        ("/usr/bin/python3", None),
    ],
)
def test_version_from_name(path: str, version: tuple[int, int] | None) -> None:
    assert elf.version_from_name(path) == version


def test_runtime_symbol_found_in_this_interpreter() -> None:
    images = elf.interpreter_images(elf.read_maps(__import__("os").getpid()), sys.executable)
    found = {}
    for image in images:
        try:
            found.update(elf.read_symbols(Path(image), {"_PyRuntime"}))
        except elf.ElfError:
            continue
    assert "_PyRuntime" in found


def _pool_profile(feeding_samples: int) -> object:
    rec = synthetic({PID: ["I"], PID + 1: ["I"]}, ticks=200)
    profile = profile_of(rec)
    root = profile.processes[0]
    worker_threads = [
        dataclasses.replace(t, state_seconds=dataclasses.replace(t.state_seconds, gil_held=1.8))
        for t in root.threads[:1]
    ]
    worker = dataclasses.replace(root, pid=PID + 10, is_root=False, threads=worker_threads)
    frames = [
        Frame("map", "/usr/lib/python3.12/multiprocessing/pool.py", 360),
        Frame("dumps", "/usr/lib/python3.12/multiprocessing/reduction.py", 51),
    ]
    stacks = [StackCount(PID, PID, "gil_held", [0, 1], feeding_samples)]
    return dataclasses.replace(profile, processes=[root, worker], frames=frames, stacks=stacks)


def tree_for(profile: Profile) -> ProcessTree | None:
    return tree_of(
        profile.processes, profile.summary, profile.frames, profile.stacks, profile.run.rate_hz
    )


def test_tree_says_when_ipc_eats_the_gain() -> None:
    cheap = tree_for(_pool_profile(feeding_samples=10))
    costly = tree_for(_pool_profile(feeding_samples=300))
    assert cheap is not None and costly is not None
    assert cheap.parent_pickling_s == pytest.approx(0.1)
    assert costly.parent_pickling_s == pytest.approx(3.0)
    assert costly.ipc_eats_gain is True
    assert "IPC eats the gain" in costly.note
    assert cheap.ipc_eats_gain is False
    assert costly.feeding_bound_speedup is not None and costly.feeding_bound_speedup < 2
    assert cheap.feeding_bound_speedup is not None and cheap.feeding_bound_speedup > 10
    assert [w.pid for w in cheap.workers] == [PID + 10]


def test_an_idle_feeder_thread_is_not_blocked_sending() -> None:
    profile = _pool_profile(feeding_samples=0)
    q = "/usr/lib/python3.12/multiprocessing/queues.py"
    frames = [
        Frame("Queue._feed", q, 231),
        Frame("Condition.wait", "/usr/lib/python3.12/threading.py", 327),
        Frame("send_bytes", "/usr/lib/python3.12/multiprocessing/connection.py", 200),
        Frame("_send", "/usr/lib/python3.12/multiprocessing/connection.py", 384),
    ]
    idle = StackCount(PID, PID, "sync", [0, 1], 300)  # waiting for something to send
    sending = StackCount(PID, PID, "io", [0, 2, 3], 20)  # writing a full pipe
    tree = tree_for(dataclasses.replace(profile, frames=frames, stacks=[idle, sending]))
    assert tree is not None
    assert tree.parent_send_wait_s == pytest.approx(0.2)


def test_single_process_has_no_tree() -> None:
    assert tree_for(profile_of(synthetic({PID: ["H"]}))) is None


def test_tree_is_rendered_and_escaped() -> None:
    from concdiag.render.html import HtmlRenderer
    from concdiag.render.text import summary_text

    profile = _pool_profile(feeding_samples=300)
    tree = tree_for(profile)
    assert tree is not None
    hostile = dataclasses.replace(tree, note="<script>x</script> IPC")
    with_tree = dataclasses.replace(profile, tree=hostile)  # type: ignore[type-var]
    html = HtmlRenderer().render(with_tree)  # type: ignore[arg-type]
    assert 'data-testid="process-tree"' in html
    assert "<script>x</script>" not in html
    assert "process tree: <script>x</script> IPC" in summary_text(with_tree, [], verbose=True)  # type: ignore[arg-type]


def test_forced_or_denied_tracing_selects_the_inprocess_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from concdiag.collectors import launch

    request = launch.LaunchRequest(TargetInvocation("x.py", False, (), "python"), 100.0, None)
    monkeypatch.delenv("CONCDIAG_FORCE_INPROCESS", raising=False)
    assert launch._inprocess_reason(request, os.getpid(), None) is None
    monkeypatch.setenv("CONCDIAG_FORCE_INPROCESS", "1")
    assert "CONCDIAG_FORCE_INPROCESS" in str(launch._inprocess_reason(request, 1, None))
    monkeypatch.delenv("CONCDIAG_FORCE_INPROCESS")
    forced = dataclasses.replace(request, collector="inprocess")
    assert "--collector inprocess" in str(launch._inprocess_reason(forced, 1, None))

    def denied(path: str, flags: int) -> int:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(launch.os, "open", denied)
    assert "not permitted" in str(launch._inprocess_reason(request, 12345, None))
