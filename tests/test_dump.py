"""`concdiag dump`'s analysis on synthetic snapshots: states, locks read from the source at
the stacks' lines, the wait-for cycle, and text that a hostile name cannot steer."""

from __future__ import annotations

from pathlib import Path

from concdiag.analysis.snapshot import read_dump, thread_state
from concdiag.recording.snapshot import (
    Descriptor,
    FrameSnapshot,
    LocalRef,
    ProcessSnapshot,
    ThreadSnapshot,
)
from concdiag.render.dump_text import dump_text

SOURCE = """\
import threading


def transfer(source, target):
    with source.lock:
        prepare()
        with target.lock:
            move()


def other(lock):
    lock.acquire()
"""
A, B = 0x7F0000001000, 0x7F0000002000


def frame(path: Path, line: int, **objects: int) -> FrameSnapshot:
    locals_ = tuple(LocalRef(n, a, f"<Account at {a:#x}>") for n, a in objects.items())
    return FrameSnapshot("transfer", str(path), line, locals_)


def thread(tid: int, name: str, frames: tuple[FrameSnapshot, ...], **kw: object) -> ThreadSnapshot:
    fields: dict[str, object] = {
        "owns_gil": False,
        "proc_state": "S",
        "syscall": 202,
        "call_kind": "futex",
        "futex_on_gil": False,
    }
    fields.update(kw)
    return ThreadSnapshot(tid=tid, name=name, frames=frames, **fields)  # type: ignore[arg-type]


def process(*threads: ThreadSnapshot) -> ProcessSnapshot:
    return ProcessSnapshot(1, None, ("python", "app.py"), "3.11.7", True, threads)


def test_two_threads_waiting_for_each_others_lock_are_a_deadlock(tmp_path: Path) -> None:
    path = tmp_path / "bank.py"
    path.write_text(SOURCE)
    one = thread(11, "one", (frame(path, 7, source=A, target=B),))
    two = thread(12, "two", (frame(path, 7, source=B, target=A),))
    dump = read_dump([process(one, two)])
    assert dump.deadlock is not None
    edges = {(e.thread, e.held_by, e.waits_at, e.held_since) for e in dump.deadlock}
    assert edges == {
        ("one", "two", "bank.py:7", "bank.py:5"),
        ("two", "one", "bank.py:7", "bank.py:5"),
    }
    (proc,) = dump.processes
    t1 = proc.threads[0]
    assert t1.waits_for is not None and t1.waits_for.expression == "target.lock"
    assert t1.waits_for.identity == f"<Account at {B:#x}>.lock"
    assert [u.expression for u in t1.inside] == ["source.lock"]
    text = dump_text(dump)
    assert text.startswith("DEADLOCK: 2 threads wait for each other\n")


def test_waits_on_different_objects_are_no_deadlock(tmp_path: Path) -> None:
    path = tmp_path / "bank.py"
    path.write_text(SOURCE)
    one = thread(11, "one", (frame(path, 7, source=A, target=B),))
    two = thread(
        12,
        "two",
        (frame(path, 6, source=0x7F0000003000, target=A),),
        proc_state="R",
        syscall=None,
        call_kind=None,
    )
    assert read_dump([process(one, two)]).deadlock is None


def test_an_acquire_call_is_a_lock_wait_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bank.py"
    path.write_text(SOURCE)
    t = thread(11, "t", (FrameSnapshot("other", str(path), 12, (LocalRef("lock", A, "<lock>"),)),))
    (proc,) = read_dump([process(t)]).processes
    assert proc.threads[0].waits_for is not None
    assert proc.threads[0].waits_for.expression == "lock"
    assert proc.threads[0].doing.endswith("at bank.py:12: lock")


def test_each_state_in_words() -> None:
    base = thread(5, "t", ())
    cases = {
        "gil_held": dict(owns_gil=True, proc_state="R", syscall=None, call_kind=None),
        "gil_wait": dict(futex_on_gil=True),
        "native": dict(proc_state="R", syscall=None, call_kind=None),
        "sleep": dict(syscall=230, call_kind="sleep"),
        "io": dict(syscall=45, call_kind="fd", descriptors=(Descriptor(3, "pipe", "pipe:[9]"),)),
        "child": dict(syscall=61, call_kind="child"),
        "waiting": dict(syscall=999, call_kind=None),
    }
    for expected, changes in cases.items():
        t = thread(5, "t", (), **changes)
        assert thread_state(t, gil_found=True)[0] == expected, expected
    assert thread_state(base, gil_found=True)[0] == "sync"
    assert "or the GIL" in thread_state(base, gil_found=False)[1]
    held = thread(5, "t", (), owns_gil=True)  # blocked while holding the GIL: a hang's cause
    assert thread_state(held, gil_found=True) == (
        "gil_held",
        "holds the GIL while blocked in system call 202",
    )


def test_a_hostile_thread_name_cannot_steer_the_terminal() -> None:
    t = thread(5, "\x1b[2J\x1b]0;pwned\x07evil", ())
    text = dump_text(read_dump([process(t)]))
    assert "\x1b" not in text and "\x07" not in text and "?[2J" in text


def test_a_dumped_command_line_is_masked() -> None:
    snap = ProcessSnapshot(1, None, ("python", "app.py", "--password", "hunter2"), "3.11", True, ())
    dump = read_dump([snap])
    assert "hunter2" not in str(dump.to_dict()) and "hunter2" not in dump_text(dump)
