"""`concdiag dump PID`: one look at a running process, on a deadlocked target and on one
blocked on a socket."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import SAMPLES, concdiag
from e2e.conftest import running as _running
from helpers import line_of

pytestmark = pytest.mark.e2e
running = contextlib.contextmanager(_running)

#: deadlock.py's threads take their second lock 0.2 s after their first; a dump taken before
#: that sees no cycle yet, so the test asks again, for up to this long.
SETTLE_S = 10.0


def dump_until_deadlock(pid: int, *options: str) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + SETTLE_S
    while True:
        proc = concdiag("dump", str(pid), *options)
        if proc.returncode != 0 or time.monotonic() > deadline:
            return proc
        time.sleep(0.2)


def test_dump_of_the_deadlock_names_both_threads_locks_and_lines() -> None:
    script = SAMPLES / "deadlock.py"
    waits = line_of(script, "with target.lock:")
    takes = line_of(script, "with source.lock:")
    with running([sys.executable, str(script)], threads=3) as target:
        text = dump_until_deadlock(target.pid)
        as_json = concdiag("dump", str(target.pid), "--json")
    assert text.returncode == 5, text.stdout + text.stderr
    head = text.stdout.split("\n\n", 1)[0]
    assert head.startswith("DEADLOCK: 2 threads wait for each other")
    for thread, other in (
        ("transfer-a-to-b", "transfer-b-to-a"),
        ("transfer-b-to-a", "transfer-a-to-b"),
    ):
        assert (f"{thread} waits at deadlock.py:{waits} for target.lock (<Account at 0x") in head
        assert f"held by {other} since deadlock.py:{takes}" in head
    assert as_json.returncode == 5
    data: dict[str, Any] = json.loads(as_json.stdout)
    (proc,) = data["processes"]
    states = {t["name"]: t["state"] for t in proc["threads"]}
    assert states["transfer-a-to-b"] == states["transfer-b-to-a"] == "sync"
    locks = {e["lock"] for e in data["deadlock"]}
    assert len(locks) == 2  # two different objects' locks, named by address


CLIENT = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
s.recv(1)  # the server never answers
"""


def test_dump_of_a_thread_blocked_on_a_socket_says_so(tmp_path: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = subprocess.Popen(
            [sys.executable, str(script), str(port)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert client.stdout is not None and client.stdout.readline() == "connected\n"
            conn, _ = server.accept()
            time.sleep(0.3)  # into recv
            proc = concdiag("dump", str(client.pid))
            conn.close()
        finally:
            client.kill()
            client.wait()
    assert proc.returncode == 0, proc.stderr
    # the main thread by its id (py-spy reads thread names from the threading module, which
    # it may find mid-update)
    main = next(ln for ln in proc.stdout.splitlines() if f"(tid {client.pid})" in ln)
    assert ": io: blocked on I/O: socket fd" in main
    assert f"-> 127.0.0.1:{port} (ESTABLISHED)" in main
    assert "client.py:5" in proc.stdout


def test_dump_refuses_a_bad_pid_in_one_line() -> None:
    proc = concdiag("dump", "999999999")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_dump_follows_python_child_processes() -> None:
    script = SAMPLES / "process_pool.py"
    with running([sys.executable, str(script)], threads=4) as target:
        proc = concdiag("dump", str(target.pid), "--subprocesses", "--json")
    assert proc.returncode == 0, proc.stderr
    processes = json.loads(proc.stdout)["processes"]
    assert processes[0]["pid"] == target.pid
    children = [p for p in processes[1:] if p["ppid"] == target.pid]
    assert children, [p["pid"] for p in processes]
    assert all(p["threads"] for p in children)
