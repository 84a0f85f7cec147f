"""`concdiag dump`'s collector: one instant of a running process (and its Python children),
read from outside: py-spy's dump of every thread's stack and locals, each thread's state and
blocking call from ``/proc``, and what a blocked descriptor is.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from concdiag.collectors.attach import require_pyspy
from concdiag.collectors.fd_waits import (
    HOST_WAIT_CALLS,
    epoll_targets,
    parse_fd_link,
    poll_fds,
    syscall_args,
)
from concdiag.collectors.proc_files import parse_stat, parse_syscall
from concdiag.collectors.pyspy import find_pyspy
from concdiag.collectors.remote_interpreter import (
    AttachTarget,
    inspect_target,
    locate_gil,
    read_mem,
)
from concdiag.errors import CannotProfileError, ConcdiagError
from concdiag.recording.snapshot import (
    Descriptor,
    FrameSnapshot,
    LocalRef,
    ProcessSnapshot,
    ThreadSnapshot,
)
from concdiag.recording.syscalls import HOST

#: How long py-spy may take to read every thread: a stated choice, generous for a process
#: of a thousand threads on a loaded machine; a hung py-spy must not hang the dump.
PYSPY_DUMP_TIMEOUT_S = 60
#: poll() arrays read from the target's memory, at most this many descriptors.
POLL_FDS_READ = 64
#: The kernel's TCP states, by the number /proc/net/tcp gives.
TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
}


def snapshot(pid: int, subprocesses: bool = False) -> list[ProcessSnapshot]:
    """The process (and, with ``subprocesses``, its Python descendants) now; root first.

    Each thread's state and blocking call are read before py-spy pauses the process to read
    the stacks: a pause interrupts timed waits, which then show as a restarted call.
    """
    root = inspect_target(pid)  # one clear error for a bad PID, a non-Python process...
    require_pyspy()
    targets = [root, *(_python_descendants(pid) if subprocesses else [])]
    before = [_before(target) for target in targets]
    # one py-spy per process: its --json output leaves --subprocesses' children out
    found = [_process(pid, _pyspy_dump(pid), before[0])]
    for target, seen in zip(targets[1:], before[1:], strict=True):
        try:
            found.append(_process(target.pid, _pyspy_dump(target.pid), seen))
        except CannotProfileError:
            continue  # it exited meanwhile
    return found


@dataclass
class _Before:
    """What ``/proc`` and the interpreter said of a process before the stacks were read."""

    version: str
    command: tuple[str, ...]
    gil_found: bool
    notes: list[str]
    threads: dict[int, tuple[str, int | None, bool, tuple[Descriptor, ...]]]


def _before(target: AttachTarget) -> _Before:
    pid = target.pid
    notes: list[str] = []
    try:
        gil, why = locate_gil(target, attempts=1)
    except OSError as exc:  # a child may exit meanwhile
        gil, why = None, str(exc)
    if gil is None:
        notes.append(f"the GIL was not found ({why}): a thread in futex waits on a lock or it")
    gil_address = gil.address if gil is not None else None
    threads = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = []
    for tid in tids:
        base = f"/proc/{pid}/task/{tid}"
        try:
            state = parse_stat(_read(f"{base}/stat"))[0]
            text = _read(f"{base}/syscall")
        except (OSError, ValueError):
            continue
        syscall, on_gil = parse_syscall(text, gil_address)
        fds = tuple(_descriptors(pid, syscall, syscall_args(text)))
        threads[tid] = (state, syscall, on_gil, fds)
    return _Before(target.version, tuple(target.command), gil is not None, notes, threads)


def _python_descendants(pid: int) -> list[AttachTarget]:
    """Descendant processes that map a Python interpreter (as `inspect_target` requires)."""
    out = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    for child in children:
        try:
            out.append(inspect_target(child.pid))
        except ConcdiagError:
            continue
    return out


def _pyspy_dump(pid: int) -> list[dict[str, Any]]:
    exe = find_pyspy()
    assert exe is not None
    argv = [exe, "dump", "--pid", str(pid), "--json", "--locals"]
    try:
        run = subprocess.run(
            argv, capture_output=True, text=True, timeout=PYSPY_DUMP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CannotProfileError(
            f"py-spy did not finish reading PID {pid} in {PYSPY_DUMP_TIMEOUT_S} s"
        ) from exc
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        raise CannotProfileError(f"py-spy could not read PID {pid}: {last}")
    try:
        data = json.loads(run.stdout)
    except json.JSONDecodeError as exc:
        raise CannotProfileError(f"py-spy's dump of PID {pid} was not JSON") from exc
    return list(data)


def _process(pid: int, threads: list[dict[str, Any]], before: _Before) -> ProcessSnapshot:
    return ProcessSnapshot(
        pid=pid,
        ppid=_ppid(pid),
        command=before.command,
        python=before.version,
        gil_found=before.gil_found,
        threads=tuple(_thread(t, before) for t in threads),
        notes=tuple(before.notes),
    )


def _thread(data: dict[str, Any], before: _Before) -> ThreadSnapshot:
    tid = int(data.get("os_thread_id") or 0)
    state, syscall, on_gil, fds = before.threads.get(tid, ("?", None, False, ()))
    return ThreadSnapshot(
        tid=tid,
        name=str(data.get("thread_name") or f"thread-{tid}"),
        owns_gil=bool(data.get("owns_gil")),
        proc_state=state,
        syscall=syscall,
        call_kind=call_kind(syscall),
        futex_on_gil=on_gil,
        frames=tuple(_frame(f) for f in data.get("frames") or ()),
        descriptors=fds,
    )


def call_kind(syscall: int | None) -> str | None:
    if syscall is None:
        return None
    calls = HOST_WAIT_CALLS
    kinds = (
        ("futex", HOST.futex),
        ("sleep", HOST.sleep),
        ("fd", calls.on_fd),
        ("poll", calls.poll),
        ("select", calls.select),
        ("epoll", calls.epoll),
        ("child", calls.child),
    )
    return next((kind for kind, numbers in kinds if syscall in numbers), None)


def _frame(data: dict[str, Any]) -> FrameSnapshot:
    return FrameSnapshot(
        function=str(data.get("name") or "?"),
        file=str(data.get("filename") or ""),
        line=int(data.get("line") or 0),
        locals=tuple(
            LocalRef(str(v.get("name")), int(v.get("addr") or 0), str(v.get("repr") or ""))
            for v in data.get("locals") or ()
        ),
    )


def _descriptors(pid: int, syscall: int | None, args: list[int]) -> Iterable[Descriptor]:
    """The descriptors a blocked call waits on: its first argument, or a poll() array's."""
    if syscall is None or not args:
        return []
    calls = HOST_WAIT_CALLS
    if syscall in calls.epoll:
        # an event loop's wait: the descriptors registered in its epoll instance
        try:
            fds = epoll_targets(_read(f"/proc/{pid}/fdinfo/{args[0]}"))[:POLL_FDS_READ]
        except OSError:
            fds = [args[0]]
    elif syscall in calls.on_fd:
        fds = [args[0]]
    elif syscall in calls.poll:
        try:
            raw = read_mem(pid, args[0], 8 * min(args[1], POLL_FDS_READ))
        except OSError:
            return []
        fds = poll_fds(raw)
    else:
        return []
    return [_describe(pid, fd) for fd in fds if 0 <= fd < 1 << 20]


def _describe(pid: int, fd: int) -> Descriptor:
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return Descriptor(fd, "unknown", "")
    kind, inode = parse_fd_link(link)
    if kind not in ("socket", "pipe"):
        kind = "anon" if link.startswith("anon_inode:") else "file"
    if kind == "socket":
        found = _inet_socket(pid, inode)
        if found is not None:
            local, remote, state = found
            return Descriptor(fd, kind, link, local, remote, state)
    return Descriptor(fd, kind, link)


def _inet_socket(pid: int, inode: int) -> tuple[str, str, str] | None:
    """A TCP or UDP socket's local and remote address and state, from the kernel's tables."""
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = _read(f"/proc/{pid}/net/{table}").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] == str(inode):
                state = TCP_STATES.get(int(fields[3], 16), fields[3]) if "tcp" in table else "UDP"
                return _address(fields[1]), _address(fields[2]), state
    return None


def _address(text: str) -> str:
    """``0100007F:1F90`` (the kernel's hex, host byte order) as ``127.0.0.1:8080``."""
    host, port = text.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ".".join(str(b) for b in reversed(raw))
    else:
        words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
        ip = ":".join(b.hex() for b in words)
        ip = f"[{ip}]"
    return f"{ip}:{int(port, 16)}"


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _ppid(pid: int) -> int | None:
    try:
        return int(_read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
