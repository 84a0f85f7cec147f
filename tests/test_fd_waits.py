"""Waits on the process tree itself, judged from kernel facts: the blocking call's arguments,
the descriptors' links, and where each pipe's or socket's other end is."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from concdiag.collectors.fd_waits import (
    TCP_ESTABLISHED,
    TCP_LISTEN,
    WAIT_CALLS,
    TreeEnds,
    UnixSocket,
    epoll_targets,
    loopback_sockets,
    parse_fd_link,
    poll_fds,
    select_fds,
    sockets_of_unix,
    syscall_args,
    unix_sockets,
)
from concdiag.model import Profile
from concdiag.recording.records import ThreadObservation, Tick
from helpers import PID, profile_of, synthetic

X86 = WAIT_CALLS["x86_64"]
READ, POLL, EPOLL_WAIT, WAIT4 = 0, 7, 232, 61


def test_the_calls_arguments_are_read_from_the_syscall_line() -> None:
    line = "0 0x5 0x7ffd1000 0x2000 0x0 0x0 0x0 0x7ffd0ff8 0x7f12345678\n"
    assert syscall_args(line) == [5, 0x7FFD1000, 0x2000, 0, 0, 0]
    assert syscall_args("running\n") == []


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("pipe:[123456]", ("pipe", 123456)),
        ("socket:[77]", ("socket", 77)),
        ("anon_inode:[eventfd]", ("anon", 0)),
        ("/dev/pts/3", ("file", 0)),
        ("/srv/data/input.csv", ("file", 0)),
    ],
)
def test_descriptor_links(link: str, expected: tuple[str, int]) -> None:
    assert parse_fd_link(link) == expected


def test_poll_select_and_epoll_sets() -> None:
    raw = (
        struct.pack("=ihh", 3, 1, 0) + struct.pack("=ihh", -1, 1, 0) + struct.pack("=ihh", 9, 4, 0)
    )
    assert poll_fds(raw) == [3, 9]  # a negative descriptor is skipped by poll itself
    assert select_fds(bytes([0b00010010, 0, 0b1])) == [1, 4, 16]
    info = "pos:\t0\nflags:\t02\nmnt_id:\t15\ntfd:        5 events:       19 data: 5\n"
    info += "tfd:       12 events:       19 data: c\n"
    assert epoll_targets(info) == [5, 12]


def test_loopback_peers_pair_swapped_addresses() -> None:
    def row(n: int, local: str, remote: str, inode: int) -> str:
        return f"{n}: {local} {remote} 01 00000000:00000000 00:00000000 00000000 0 0 {inode} 1\n"

    header = (
        "sl local_address rem_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n"
    )
    a = row(0, "0100007F:1F90", "0100007F:C350", 111)
    b = row(1, "0100007F:C350", "0100007F:1F90", 222)
    far = row(2, "0A00000F:C351", "5DB8D822:01BB", 333)  # to another host: no peer here
    assert loopback_sockets([header + a + b + far]).peers == {111: 222, 222: 111}


def test_a_connection_its_server_has_not_accepted_yet_is_awaiting_accept() -> None:
    def row(n: int, local: str, remote: str, state: str, inode: int) -> str:
        return (
            f"{n}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000 0 0 {inode} 1\n"
        )

    header = (
        "sl local_address rem_address st tx_queue rx_queue tr tm->when retrnsmt uid timeout inode\n"
    )
    listener = row(0, "0100007F:1F90", "00000000:0000", "0A", 100)
    client = row(1, "0100007F:C350", "0100007F:1F90", "01", 111)
    in_backlog = row(2, "0100007F:1F90", "0100007F:C350", "01", 0)  # no inode until accepted
    sockets = loopback_sockets([header + listener + client + in_backlog])
    assert sockets.awaiting_accept == {111: 100}
    assert sockets.peers == {} and sockets.server_ends == frozenset()
    accepted = row(2, "0100007F:1F90", "0100007F:C350", "01", 222)
    sockets = loopback_sockets([header + listener + client + accepted])
    assert sockets.awaiting_accept == {}
    assert sockets.server_ends == {222} and sockets.peers[111] == 222


def test_a_socketpairs_ends_are_each_others_peers() -> None:
    left, right = socket.socketpair()
    with left, right:
        peers = unix_sockets().peers
        if not peers:
            pytest.skip("this kernel refuses sock_diag")
        a, b = os.fstat(left.fileno()).st_ino, os.fstat(right.fileno()).st_ino
        assert peers[a] == b and peers[b] == a


def _ends(*pids: int) -> TreeEnds:
    return TreeEnds(lambda: pids, calls=X86)


def test_a_pipe_to_a_child_of_the_tree_is_a_wait_on_the_tree(tmp_path: Path) -> None:
    """The parent reads a pipe the child writes: inside the tree. The same pipe with the
    child left out of the tree leads out of it (its other end is elsewhere)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; time.sleep(30)"],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        fd = child.stdout.fileno()
        args = [fd, 0, 4096, 0, 0, 0]
        assert _ends(os.getpid(), child.pid).waits_on_tree(os.getpid(), READ, args) is True
        assert _ends(os.getpid()).waits_on_tree(os.getpid(), READ, args) is False
        # waiting for a child to exit is waiting on the tree
        assert _ends(os.getpid()).waits_on_tree(os.getpid(), WAIT4, [child.pid, 0, 0, 0, 0, 0])
    finally:
        child.kill()
        child.wait()


def test_a_file_or_a_poll_set_with_one_outside_end_is_io(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("x")
    read_end, write_end = os.pipe()
    with path.open() as handle:
        ends = _ends(os.getpid())
        args = [handle.fileno(), 0, 1, 0, 0, 0]
        assert ends.waits_on_tree(os.getpid(), READ, args) is False
        # a self-pipe alone (both ends here): inside; with a file beside it in a poll set: I/O
        pollfds = struct.pack("=ihhihh", read_end, 1, 0, handle.fileno(), 1, 0)
        buffer = bytearray(pollfds)
        address = _address_of(buffer)
        assert ends.waits_on_tree(os.getpid(), POLL, [address, 1, -1, 0, 0, 0]) is True
        assert ends.waits_on_tree(os.getpid(), POLL, [address, 2, -1, 0, 0, 0]) is False
    os.close(read_end)
    os.close(write_end)


def _address_of(buffer: bytearray) -> int:
    import ctypes

    return ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))


def test_a_process_joining_the_tree_turns_out_into_in() -> None:
    clock = [0.0]
    read_end, write_end = os.pipe()
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], pass_fds=(write_end,)
    )
    os.close(write_end)
    try:
        pids = [os.getpid()]
        ends = TreeEnds(lambda: pids, calls=X86, clock=lambda: clock[0])
        args = [read_end, 0, 1, 0, 0, 0]
        assert ends.waits_on_tree(os.getpid(), READ, args) is False
        pids.append(child.pid)
        ends.tree_changed()
        assert ends.waits_on_tree(os.getpid(), READ, args) is True
    finally:
        child.kill()
        child.wait()
        os.close(read_end)


def test_calls_that_name_no_descriptor_are_not_judged() -> None:
    ends = _ends(os.getpid())
    assert ends.waits_on_tree(os.getpid(), 230, [0, 0, 0, 0, 0, 0]) is None  # clock_nanosleep
    assert ends.waits_on_tree(os.getpid(), 202, [1, 2, 3, 4, 5, 6]) is None  # futex


def _ipc_run(ipc: bool | None) -> Profile:
    """Two threads of the root process: one computes, one blocks reading a channel."""
    rec = synthetic({PID: ["H"], PID + 1: ["I"]}, ticks=300)
    rec.ticks = [
        Tick(
            t.t_s,
            t.pid,
            t.gil_locked,
            t.gil_holder_tid,
            t.gil_switches,
            t.process_cpu_ticks,
            tuple(
                ThreadObservation(o.tid, o.proc_state, 0, False, o.cpu_ticks, ipc=ipc)
                if o.tid == PID + 1
                else o
                for o in t.threads
            ),
        )
        for t in rec.ticks
    ]
    return profile_of(rec)


def test_a_wait_on_the_tree_is_coordination_not_io() -> None:
    on_tree = _ipc_run(True)
    outside = _ipc_run(False)
    channel = next(t for t in on_tree.processes[0].threads if t.tid == PID + 1)
    assert channel.role == "coordinator"
    assert channel.ipc_wait_s == pytest.approx(3.0)
    assert on_tree.summary.worker_seconds.io == pytest.approx(0.0)
    assert outside.summary.worker_seconds.io == pytest.approx(3.0)
    assert on_tree.verdict.bound == "cpu"
    assert outside.verdict.bound != "cpu"


def test_the_recording_keeps_the_judgement(tmp_path: Path) -> None:
    from concdiag.recording.recording import Recording
    from concdiag.recording.records import TargetInfo

    obs = ThreadObservation(7, "S", 0, False, 3, None, None, 10, 0, 1, True)
    recording = Recording(
        rate_hz=100.0,
        target=TargetInfo(7, "/usr/bin/python3", "3.11.7", "cpython", True, False, 0.005, True, 7),
        ticks=(Tick(0.0, 7, False, None, 0, 3, (obs,)),),
    )
    path = tmp_path / "r.json"
    recording.save(path)
    assert Recording.load(path).ticks[0].threads == (obs,)


def test_a_process_that_leaves_the_tree_is_forgotten() -> None:
    read_end, write_end = os.pipe()
    try:
        ends = _ends(os.getpid())
        assert ends.waits_on_tree(os.getpid(), READ, [read_end, 0, 1, 0, 0, 0]) is True
        assert ends.judgements_of(os.getpid()) == 1
        ends.forget(os.getpid())
        assert ends.judgements_of(os.getpid()) == 0
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_connection_to_a_server_the_tree_runs_is_io_and_its_holder_serves() -> None:
    """A child that accepts a TCP connection on 127.0.0.1: the client's wait on it is I/O (a
    local service stands in for another host) and the child, which holds the accepted end, is
    recorded as serving."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "print(s.getsockname()[1], flush=True)\n"
            "c, _ = s.accept(); time.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as client:
            ends = _ends(os.getpid(), server.pid)
            args = [client.fileno(), 0, 4096, 0, 0, 0]
            for _ in range(50):  # the accepted end appears once the server has accepted
                if ends.waits_on_tree(os.getpid(), READ, args) is False and ends.serving_pids:
                    break
                ends.tree_changed()
            assert ends.waits_on_tree(os.getpid(), READ, args) is False
            assert ends.serving_pids == {server.pid}
            # any rebuild of the index finds the server, judged wait or not (one on a
            # listening socket of this process leads out, and rebuilds the index)
            other = _ends(os.getpid(), server.pid)
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen()
                accept_args = [listener.fileno(), 0, 0, 0, 0, 0]
                assert other.waits_on_tree(os.getpid(), READ, accept_args) is False
            assert other.serving_pids == {server.pid}
    finally:
        server.kill()
        server.wait()


def test_listening_and_accepted_sockets_are_read_from_the_kernel_tables() -> None:
    def row(n: int, local: str, remote: str, state: str, inode: int) -> str:
        return f"{n}: {local} {remote} {state} 0:0 00:0 0 0 0 {inode} 1\n"

    header = "sl local rem st tx rx tr tm retr uid timeout inode\n"
    table = header + "".join(
        [
            row(0, "0100007F:1F90", "00000000:0000", "0A", 10),  # listening on 8080
            row(1, "0100007F:1F90", "0100007F:C350", "01", 11),  # accepted on 8080
            row(2, "0100007F:C350", "0100007F:1F90", "01", 12),  # the client's end
        ]
    )
    sockets = loopback_sockets([table])
    assert sockets.server_ends == {11}  # the listener itself is no server end
    assert sockets.peers == {11: 12, 12: 11}
    unix = sockets_of_unix(
        [
            UnixSocket(20, TCP_LISTEN, b"/run/app.sock", None),
            UnixSocket(21, TCP_ESTABLISHED, b"/run/app.sock", 22),  # accepted: the name
            UnixSocket(22, TCP_ESTABLISHED, b"", 21),  # the client: no name of its own
            UnixSocket(23, TCP_ESTABLISHED, None, 24),  # a socketpair: neither
        ]
    )
    assert unix.server_ends == {21}
