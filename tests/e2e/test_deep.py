"""``concdiag profile --deep`` for real: yappi in the target under each installed Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from e2e.conftest import SAMPLES
from helpers import load_schema

pytestmark = pytest.mark.e2e

TARGETS = Path(__file__).parent / "targets"
PYENV = Path("/root/.pyenv/versions")


def interpreter(version: str) -> Path | None:
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
    return found[-1] if found else None


def yappi_version() -> str:
    from importlib.metadata import version

    return version("yappi")


@pytest.fixture(scope="session")
def yappi_for(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A folder holding yappi built for ``version``, fetched once by pip (skip if offline)."""
    cache: dict[str, Path] = {}

    def get(version: str) -> Path:
        if version not in cache:
            folder = tmp_path_factory.mktemp(f"yappi-{version}")
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--target",
                    str(folder),
                    "--python-version",
                    version,
                    "--only-binary=:all:",
                    "--no-deps",
                    f"yappi=={yappi_version()}",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if proc.returncode != 0:
                pytest.skip(f"cannot fetch yappi for Python {version}: {proc.stderr[-200:]}")
            cache[version] = folder
        return cache[version]

    return get


def run_deep(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], str]:
    json_path, html_path = tmp_path / "p.json", tmp_path / "p.html"
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full_env.update(env or {})
    command = [sys.executable, "-m", "concdiag", "profile", "--json", str(json_path)]
    proc = subprocess.run(
        [*command, "-o", str(html_path), "--deep", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=full_env,
        timeout=timeout,
    )
    data = json.loads(json_path.read_text()) if json_path.exists() else {}
    html = html_path.read_text() if html_path.exists() else ""
    return proc, data, html


def rows(data: dict[str, Any], thread: str) -> dict[str, dict[str, Any]]:
    (t,) = [t for t in data["deep"]["threads"] if t["name"] == thread]
    return {f["function"]: f for f in t["functions"]}


def check_deep_mix(data: dict[str, Any]) -> None:
    jsonschema.validate(data, load_schema())
    deep = data["deep"]
    assert deep["clock"] == "cpu" and deep["cpu_source"] == "yappi"
    compute = rows(data, "computer")["compute"]
    assert compute["calls"] == 1
    # it spins for 0.4 s of CPU: 0.399-0.401 over 20 runs at load 2.0-9.0, and its sleeper
    # 0.000 s of CPU in 0.41-0.47 s (tests/e2e/measure_margins.py, default interpreter)
    assert compute["cpu_s"] == pytest.approx(0.4, abs=0.15)
    step = rows(data, "computer")["step"]
    assert step["calls"] > 1000
    wait = rows(data, "sleeper")["wait_io"]
    assert wait["calls"] == 1
    assert wait["behaviour"] == "io_wait"
    assert wait["cpu_s"] < 0.05 <= wait["wall_s"]


@pytest.mark.figures
def test_deep_on_threads_with_the_default_python(tmp_path: Path) -> None:
    """Also a target that ends with sys.exit(3) from a function: its status is passed through
    and the tables are still saved."""
    proc, data, html = run_deep(tmp_path, str(TARGETS / "deep_mix.py"), env={"EXIT_CODE": "3"})
    assert proc.returncode == 3, proc.stderr
    check_deep_mix(data)
    assert 'id="deep"' in html and "Waits:" in html
    collectors = {c["name"]: c for c in data["run"]["collectors"]}
    assert collectors["yappi"]["ok"]


@pytest.mark.figures
@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_deep_under_other_interpreters(version: str, tmp_path: Path, yappi_for) -> None:  # type: ignore[no-untyped-def]
    python = interpreter(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed")
    folder = yappi_for(version)
    proc, data, _ = run_deep(
        tmp_path,
        "--python",
        str(python),
        str(TARGETS / "deep_mix.py"),
        env={"PYTHONPATH": str(folder)},
    )
    assert proc.returncode == 0, proc.stderr
    assert data["run"]["python"]["version"].startswith(version)
    # the GIL found in each interpreter (3.13 through its debug offsets)
    assert data["processes"][0]["gil"]["measured"] is True
    check_deep_mix(data)


def test_missing_yappi_is_one_line_and_the_run_goes_on(tmp_path: Path) -> None:
    python = interpreter("3.12") or interpreter("3.13") or interpreter("3.10")
    if python is None:
        pytest.skip("no other Python installed")
    has = subprocess.run([str(python), "-c", "import yappi"], capture_output=True)
    if has.returncode == 0:
        pytest.skip(f"{python} has yappi")
    proc, data, _ = run_deep(tmp_path, "--python", str(python), str(TARGETS / "deep_mix.py"))
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "--deep" in line]
    assert len(lines) == 1 and "yappi cannot be loaded" in lines[0]
    assert "Traceback" not in proc.stderr
    assert data["deep"] is None
    assert data["verdict"]["bound"]


@pytest.mark.figures
def test_asyncio_awaits_are_named(tmp_path: Path) -> None:
    proc, data, html = run_deep(tmp_path, str(TARGETS / "asyncio_awaits.py"))
    assert proc.returncode == 0, proc.stderr
    assert data["deep"]["clock"] == "wall"
    fetch = rows(data, "MainThread")["slow_fetch"]
    assert fetch["behaviour"] == "awaits"
    # It awaits 1.2 s of sleeps: never less, more when the loop is slow to come back (1.20-
    # 1.32 s over 20 runs at load 2.0-9.6, tests/e2e/measure_margins.py; 1.65 s in one at 7.7).
    assert fetch["awaiting_s"] >= 1.2 - 0.05
    assert "slow_fetch (MainThread) awaits" in html


@pytest.mark.parametrize(
    ("target", "env", "code"),
    [
        ("crash", {}, 1),  # an uncaught exception: python's 1 (sys.exit(3): the first test)
    ],
)
def test_tables_are_saved_when_the_target_exits_badly(
    target: str, env: dict[str, str], code: int, tmp_path: Path
) -> None:
    script = SAMPLES / "crash_halfway.py" if target == "crash" else TARGETS / target
    if not script.exists():
        pytest.skip(f"{script.name} not present")
    proc, data, _ = run_deep(tmp_path, str(script), env=env)
    assert proc.returncode == code, proc.stderr
    assert data["deep"] is not None and data["deep"]["threads"]
    assert any(f["calls"] for t in data["deep"]["threads"] for f in t["functions"])


def test_tables_are_saved_on_sigterm(tmp_path: Path) -> None:
    proc, data, _ = run_deep(tmp_path, "--duration", "1", str(TARGETS / "ignores_sigint.py"))
    assert proc.returncode == 0, proc.stderr  # ended by --duration: not a failure
    assert data["run"]["exit"]["signal"] == 15
    spin = rows(data, "MainThread")["spin"]
    assert spin["calls"] >= 5
