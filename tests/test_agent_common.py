"""The agent's shared helpers, run as the target runs them (loaded by the bootstrap)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import BOOTSTRAP, agent_module

CHAINED_TWICE = """
import importlib.util, os, signal
spec = importlib.util.spec_from_file_location("_concdiag_bootstrap", {bootstrap!r})
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)
common = bootstrap.agent_module("common")
def saver(name):
    def save():
        with open({out!r}, "a") as f:
            f.write(name + ",")
    return save
common.chain_sigterm(saver("deep"))   # as deep mode does, first
common.chain_sigterm(saver("locks"))  # then the lock tracker
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, b"1" if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else b"0")
    os._exit(0)
os.waitpid(pid, 0)
print(os.read(read, 1) == b"1", flush=True)
os.kill(os.getpid(), signal.SIGTERM)
"""


def test_chained_handlers_save_in_order_then_sigterm_ends_the_process(tmp_path: Path) -> None:
    """Deep mode and the lock tracker both chain SIGTERM: each saves, the last handler
    installed first, and the process still ends by SIGTERM; a forked child gets the default
    disposition back (a Python handler there could miss Pool.terminate()'s SIGTERM)."""
    out = tmp_path / "saved.txt"
    script = tmp_path / "target.py"
    script.write_text(CHAINED_TWICE.format(bootstrap=str(BOOTSTRAP), out=str(out)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == -15, proc.stderr
    assert proc.stdout.strip() == "True"
    assert out.read_text() == "locks,deep,"


def test_an_ignored_sigterm_stays_ignored(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import importlib.util, signal
        spec = importlib.util.spec_from_file_location("_b", {str(BOOTSTRAP)!r})
        b = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(b)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        b.agent_module("common").chain_sigterm(lambda: None)
        print(signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "True", proc.stderr


def test_atomic_write_leaves_the_old_file_or_the_whole_new_one(tmp_path: Path) -> None:
    common = agent_module("common")
    path = tmp_path / "tables.json"
    common.write_atomic(str(path), {"a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    common.write_atomic(str(path), {"a": {1, 2}})  # not JSON: nothing written, no error
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    common.write_atomic(str(tmp_path / "no" / "such" / "dir.json"), {"a": 1})  # never raises


def test_the_agents_own_files_and_the_standard_library() -> None:
    common = agent_module("common")
    assert common.is_ours(str(BOOTSTRAP))
    assert common.is_ours(str(BOOTSTRAP.parent / "locks" / "tracker.py"))
    assert not common.is_ours("/app/main.py") and not common.is_ours("")
    assert common.is_stdlib(json.__file__)
    assert common.is_stdlib("<frozen runpy>")
    assert not common.is_stdlib("/usr/lib/python3/site-packages/yappi.py")
