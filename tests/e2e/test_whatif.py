"""`concdiag whatif` for real: the direction of measured differences, findings, no reruns.

Times are never compared with fixed numbers: a difference is asserted in its direction where
20 runs showed it always held, and the outcome may be any that the measured truth allows (a
tie, or a machine too busy to show a gain past the spread). The long ones (a target run 5 to
7 times) are marked slow as well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import SAMPLES, concdiag

pytestmark = pytest.mark.e2e
TARGETS = Path(__file__).parent / "targets"


def whatif(
    tmp_path: Path, *args: str, stdin: str | None = None, crashes: bool = False
) -> tuple[Any, dict[str, Any]]:
    json_path = tmp_path / "p.json"
    proc = concdiag(
        "whatif",
        "--json",
        str(json_path),
        "-o",
        str(tmp_path / "p.html"),
        *args,
        cwd=tmp_path,
        stdin=stdin,
        timeout=900,
    )
    assert crashes or "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(json_path.read_text()) if json_path.exists() else {}
    return proc, data


def by_model(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The alternative run at the number of workers asked, by model (and as written)."""
    out = {}
    for alt in data["whatif"]["alternatives"]:
        if alt["as_written"]:
            out["as_written"] = alt
        elif alt["workers"] is None:
            out[alt["model"]] = alt
    return out


#: The process pool's speed is asserted only where it ran on this many cores or more.
MEASURED_ON_CORES = 1.4


@pytest.mark.slow
@pytest.mark.figures
def test_cpu_thread_pool_runs_faster_on_processes(tmp_path: Path) -> None:
    target = str(SAMPLES / "cpu_thread_pool.py")
    proc, data = whatif(tmp_path, "--workers", "asked", "--repeat", "2", target)
    assert proc.returncode == 0, proc.stderr
    w = data["whatif"]
    assert w["status"] == "measured"
    alts = by_model(data)
    written, processes = alts["as_written"], alts["multiprocessing"]
    assert processes["status"] == "ok"
    assert (written["model"], processes["model"]) == ("threading", "multiprocessing")
    assert [s["what"] for s in w["sites"]] == ["thread_pool_executor"]
    # The truth: processes run this CPU-bound pool faster, when they get the cores. A machine
    # busy with other work (the suite's other worker, other sessions) may not give them: over
    # 20 runs at load 2.1-10.6 (tests/e2e/measure_margins.py) the speedup was 1.05-2.01 on
    # 0.27-1.89 cores, and one suite run measured 0.83x on 0.95 cores. So the speed is asserted
    # only where the process pool had the cores to show it; the outcome is then confirmed or
    # inconclusive (the gain within the spread), never refuted.
    if (processes["cores_used"] or 0.0) >= MEASURED_ON_CORES:
        assert processes["speedup"] > 1, processes
        assert w["outcome"] in ("confirmed", "inconclusive"), w["message"]
    if w["outcome"] == "confirmed":
        assert "measurement confirms the verdict" in (tmp_path / "p.html").read_text()


def test_an_unpicklable_task_is_a_finding_with_its_line(tmp_path: Path) -> None:
    script = TARGETS / "unpicklable_task.py"
    proc, data = whatif(tmp_path, "-v", "--workers", "asked", "--repeat", "1", str(script))
    assert proc.returncode == 0, proc.stderr
    assert "unpicklable_task: total=" in proc.stdout  # the first run, output passed through
    processes = by_model(data)["multiprocessing"]
    assert processes["status"] == "failed"
    (failure,) = data["whatif"]["failures"]
    line = next(n for n, text in enumerate(script.read_text().splitlines(), 1) if "submit(" in text)
    assert (failure["file"], failure["line"]) == (str(script), line)
    assert "pickle" in failure["error"].lower()
    assert "could not run under processes" in proc.stderr
    # with processes recommended, the recommendation could not be measured; a run on a busy
    # machine may recommend the model as written, which the measurement can then settle
    if data["verdict"]["recommendation"] == "multiprocessing":
        assert data["whatif"]["outcome"] == "not_measured"


def test_results_that_differ_under_processes_are_said(tmp_path: Path) -> None:
    script = TARGETS / "shared_results.py"
    proc, data = whatif(tmp_path, "--workers", "asked", "--repeat", "1", str(script))
    assert proc.returncode == 0, proc.stderr
    processes = by_model(data)["multiprocessing"]
    assert processes["status"] == "output_differs"
    assert "shared object" in processes["note"]


def test_a_program_reading_stdin_is_not_rerun(tmp_path: Path) -> None:
    proc, data = whatif(tmp_path, str(TARGETS / "pool_reads_stdin.py"), stdin="three small words")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("pool_reads_stdin: 15 characters") == 1  # ran once
    w = data["whatif"]
    assert w["status"] == "skipped" and "standard input" in w["note"]
    assert w["alternatives"] == []


def test_a_failing_first_run_is_not_rerun(tmp_path: Path) -> None:
    proc, data = whatif(tmp_path, str(SAMPLES / "crash_halfway.py"), crashes=True)
    assert proc.returncode == 4
    assert proc.stderr.count("RuntimeError: simulated crash") == 1  # ran once
    w = data["whatif"]
    assert w["status"] == "skipped" and "not rerun" in w["note"]


def test_a_program_that_exits_1_by_choice_is_rerun(tmp_path: Path) -> None:
    """A linter exits 1 when it finds something: reruns that exit 1 too are good runs."""
    script = TARGETS / "lint_finds_something.py"
    proc, data = whatif(tmp_path, "--workers", "asked", "--repeat", "1", str(script))
    assert proc.returncode == 4  # whatif's code for a target that failed
    w = data["whatif"]
    assert w["status"] == "measured", w.get("note")
    assert all(a["status"] in ("ok", "output_differs") for a in w["alternatives"]), w
    assert data["run"]["exit"]["description"] == "exited with status 1"


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = concdiag("whatif", str(tmp_path / "absent.py"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"concdiag: error: no such script: {tmp_path / 'absent.py'}"
    ]
    proc = concdiag("whatif", "--repeat", "0", "x.py", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.figures
def test_check_confirm_warns_when_the_measurement_shows_no_gain(tmp_path: Path) -> None:
    """processes where threads serve: a contradiction by default; with --confirm it fails
    only when threads are measured faster past confirm_margin (here a 50% gain, which eight
    I/O-bound threads never show over eight processes) and the spread: a warning, exit 0.

    The same run is `whatif --workers asked` on the I/O process pool, with its alternatives,
    outcome and report section.
    """
    policy = tmp_path / "policy.toml"
    policy.write_text("confirm_margin = 0.5\n")
    result = tmp_path / "result.json"
    proc = concdiag(
        "check",
        "--confirm",
        "--policy",
        str(policy),
        "--reports-dir",
        str(tmp_path / "reports"),
        "--result",
        str(result),
        str(SAMPLES / "io_process_pool.py"),
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (target,) = json.loads(result.read_text())["targets"]
    c = target["measurement"]["confirmation"]
    assert c["alternative"] == "threads, 8 workers (as asked)"
    assert c["as_written_s"] > 0 and c["alternative_s"] > 0
    (finding,) = [f for f in target["findings"] if f["rule"] == "model-contradiction"]
    assert finding["outcome"] == "warning"
    assert "Measured: threads, 8 workers" in finding["message"]
    profile = json.loads(Path(target["profiles"][0]).read_text())
    assert [a["label"] for a in profile["whatif"]["alternatives"]] == [
        "as written: processes, 8 workers",
        "threads, 8 workers (as asked)",
    ]
    alts = by_model(profile)
    written, threads = alts["as_written"], alts["threading"]
    assert written["model"] == "multiprocessing" and threads["status"] == "ok"
    # Threads and processes tie on this pool: over 20 runs at load 2.1-9.6
    # (tests/e2e/measure_margins.py) threads ran 0.84-1.28x the processes' speed, never the
    # 1.5x that would fail the check, and always within the spread or faster (confirmed), but
    # once only 0.03 s inside it: either reading of a tie is right, "not measured" is not.
    assert profile["whatif"]["outcome"] in ("confirmed", "refuted"), profile["whatif"]["message"]
    html = Path(target["reports"][0]).read_text()
    assert 'id="whatif"' in html and "threads, 8 workers (as asked)" in html
