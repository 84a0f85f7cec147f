"""The in-target pool swap, run for real under the bootstrap's bare mode (a second each).

Each test runs a small script with ``CONCDIAG_BARE=1`` and a swap config, then reads what
the script printed and what the swap recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from concdiag.collectors.swap_report import BARE_ENV, SWAP_ENV, read_swap_report, swap_env
from concdiag.collectors.target_invocation import BOOTSTRAP

SCRIPT = textwrap.dedent(
    """
    import asyncio, concurrent.futures as cf, json, multiprocessing
    from concurrent.futures import ThreadPoolExecutor

    def square(x):
        return x * x

    class MyPool(ThreadPoolExecutor):
        pass

    async def default_executor():
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, square, 3)

    def main():
        out = {}
        with ThreadPoolExecutor(max_workers=2) as ex:
            out["executor"] = type(ex).__name__
            out["isinstance"] = isinstance(ex, cf.ThreadPoolExecutor)
            out["sum"] = sum(ex.map(square, range(10)))
        with MyPool(2) as mine:
            out["subclass"] = type(mine).__name__
        with multiprocessing.Pool(2) as p:
            out["pool"] = type(p).__name__
            out["pool_sum"] = sum(p.map(square, range(10)))
        out["asyncio"] = asyncio.run(default_executor())
        local = lambda x: x  # noqa: E731
        with ThreadPoolExecutor(2) as ex:
            try:
                ex.submit(local, 1).result()
                out["lambda"] = "ran"
            except Exception as exc:
                out["lambda"] = type(exc).__name__
        print(json.dumps(out))

    if __name__ == "__main__":
        main()
    """
)


def run_swapped(tmp_path: Path, kind: str, script: str = SCRIPT, **popen: object) -> tuple:
    target = tmp_path / "target.py"
    target.write_text(script)
    report = tmp_path / "swap.jsonl"
    env = {**os.environ, BARE_ENV: "1", SWAP_ENV: swap_env(kind, None, report, watch=True)}
    proc = subprocess.run(
        [sys.executable, str(BOOTSTRAP), str(target)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        **popen,  # type: ignore[arg-type]
    )
    return proc, read_swap_report(report)


def test_as_written_changes_nothing_and_records_every_pool(tmp_path: Path) -> None:
    proc, report = run_swapped(tmp_path, "as_written", stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out == {
        "executor": "ThreadPoolExecutor",
        "isinstance": True,
        "sum": 285,
        "subclass": "MyPool",
        "pool": "Pool",
        "pool_sum": 285,
        "asyncio": 9,
        "lambda": "ran",
    }
    assert report.installed and not report.read_stdin
    lines = {(p.kind, p.line): p for p in report.pools}
    script_lines = SCRIPT.splitlines()
    first = script_lines.index("    with ThreadPoolExecutor(max_workers=2) as ex:") + 1
    assert lines[("thread_pool_executor", first)].workers == 2
    assert lines[("thread_pool_executor", first)].became is None
    assert any("subclass (MyPool)" in p.note for p in report.pools)
    assert any(p.note.startswith("created by the standard library") for p in report.pools)


def test_threads_become_processes_and_a_lambda_is_a_finding(tmp_path: Path) -> None:
    proc, report = run_swapped(tmp_path, "processes", stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["executor"] == "ProcessPoolExecutor"
    assert out["isinstance"] is False  # it really is a process pool now
    assert out["sum"] == 285 and out["pool_sum"] == 285
    assert out["subclass"] == "MyPool"  # a subclass keeps its kind
    assert out["asyncio"] == 9  # asyncio's own executor stays a thread pool
    assert out["lambda"] in ("AttributeError", "PicklingError")
    submit = SCRIPT.splitlines().index("            ex.submit(local, 1).result()") + 1
    [error] = report.task_errors
    assert error.line == submit and "pickle" in error.error.lower()
    assert error.task == "main.<locals>.<lambda>"


def test_process_pools_become_thread_pools(tmp_path: Path) -> None:
    proc, report = run_swapped(tmp_path, "threads", stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["pool"] == "ThreadPool" and out["pool_sum"] == 285
    assert out["executor"] == "ThreadPoolExecutor"
    assert [p.became for p in report.pools if p.kind == "process_pool"] == ["threads"]


def test_a_read_of_standard_input_is_noted(tmp_path: Path) -> None:
    script = "import sys\nprint(len(sys.stdin.read()))\n"
    proc, report = run_swapped(tmp_path, "as_written", script, input="abc")
    assert proc.stdout.strip() == "3"
    assert report.read_stdin


def test_bare_mode_reports_a_missing_script_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, BARE_ENV: "1"}
    proc = subprocess.run(
        [sys.executable, str(BOOTSTRAP), str(tmp_path / "absent.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"concdiag bootstrap: no such file: {tmp_path}/absent.py"
    ]


def _python(version: str) -> str | None:
    import shutil

    candidates = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python{version}"))
    return str(candidates[-1]) if candidates else shutil.which(f"python{version}")


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_the_swap_runs_on_other_interpreters(version: str, tmp_path: Path) -> None:
    python = _python(version)
    if python is None:
        pytest.skip(f"python{version} not installed")
    target = tmp_path / "target.py"
    target.write_text(SCRIPT)
    report = tmp_path / "swap.jsonl"
    env = {**os.environ, BARE_ENV: "1", SWAP_ENV: swap_env("processes", None, report)}
    proc = subprocess.run(
        [python, str(BOOTSTRAP), str(target)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["executor"], out["sum"], out["asyncio"]) == ("ProcessPoolExecutor", 285, 9)
    seen = read_swap_report(report)
    assert seen.python.startswith(version)
    assert [e.task for e in seen.task_errors] == ["main.<locals>.<lambda>"]
