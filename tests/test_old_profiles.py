"""Profiles and results of the previous schema version are still read, renamed on load.

`tests/data/profile-v1-*.json` were written by concdiag before schema version 2 (built from
the recordings of the same name) and are kept as they were.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from concdiag.gate.result import GateResult
from concdiag.migrations import profile_from_v1, result_from_v1
from concdiag.model import CURRENT_MODELS, SCHEMA_VERSION, Profile
from concdiag.render.html import HtmlRenderer
from conftest import DATA, load_recording
from helpers import load_schema, profile_of
from test_report_cli import concdiag

OLD = {name: DATA / f"profile-v1-{name}.json" for name in ("cpu_threads", "io_threads")}


def _old(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(OLD[name].read_text())
    return data


def test_the_fixtures_are_version_1() -> None:
    for name in OLD:
        data = _old(name)
        assert data["schema_version"] == 1
        assert "wall_s" in data["processes"][0]["threads"][0]
        assert data["verdict"]["current_model"]["kind"] == "threads"


@pytest.mark.parametrize("name", sorted(OLD))
def test_a_version_1_profile_loads_renamed(name: str) -> None:
    old = _old(name)
    profile = Profile.load(OLD[name])
    assert profile.schema_version == SCHEMA_VERSION == 2
    assert profile.verdict.current_model.kind == "threading"
    for old_proc, proc in zip(old["processes"], profile.processes, strict=True):
        assert proc.alive_s == old_proc["wall_s"]
        for old_thread, thread in zip(old_proc["threads"], proc.threads, strict=True):
            assert thread.alive_s == old_thread["wall_s"]
    data = profile.to_dict()
    jsonschema.validate(data, load_schema())
    # Nothing else changed: undoing the renames gives back the stored document.
    assert _as_v1(data) == old


def _as_v1(data: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(data)
    _as_v2(doc)
    doc["schema_version"] = 1
    for part in (
        "locks",
        "whatif",
        "gil_blame",
        "event_loop",
    ):  # optional parts added to version 2 later
        if doc.get(part) is None:
            doc.pop(part, None)
    if doc["verdict"].get("process_start") is None:  # added to version 2 later, optional
        doc["verdict"].pop("process_start", None)
    if doc["run"]["overhead"].get("stack_sampler_cpu_s") is None:  # likewise
        doc["run"]["overhead"].pop("stack_sampler_cpu_s", None)
    for proc in doc["processes"]:
        proc["wall_s"] = proc.pop("alive_s")
        for thread in proc["threads"]:
            thread["wall_s"] = thread.pop("alive_s")
    current = doc["verdict"]["current_model"]
    current["kind"] = {"threading": "threads", "multiprocessing": "processes"}.get(
        current["kind"], current["kind"]
    )
    return doc


#: What was added to version 2 since (with defaults): the clock check, error bars, the
#: starved and pre-empted shares, the time waiting on the process tree.
V3_THREAD_FIELDS = (
    "observed_samples",
    "share_errors",
    "few_samples",
    "starved_share",
    "pre_empted_share",
    "cpu_clock_share",
    "clock_disagreement",
    "clock_error",
    "ipc_wait_s",
)
V3_SUMMARY_FIELDS = ("starved_s", "clock_check")


def _as_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (today's) without the fields added to version 2 since, in place."""
    doc["schema_version"] = 2
    for proc in doc["processes"]:
        proc.pop("helper", None)  # added since, optional (empty)
        for thread in proc["threads"]:
            for key in V3_THREAD_FIELDS:
                thread.pop(key)
    for key in V3_SUMMARY_FIELDS:
        doc["summary"].pop(key)
    return doc


def test_a_profile_written_before_the_clock_figures_loads_without_them() -> None:
    today = profile_of(load_recording("cpu_threads"), "cpu_threads.py")
    old = _as_v2(today.to_dict())
    profile = Profile.from_dict(old)
    assert profile.schema_version == SCHEMA_VERSION
    assert profile.summary.clock_check is None
    thread = profile.processes[0].threads[0]
    assert thread.share_errors is None and thread.cpu_clock_share is None
    assert profile.verdict == today.verdict
    jsonschema.validate(profile.to_dict(), load_schema())


def test_migration_renames_every_alive_time_and_model_word() -> None:
    old = {
        "schema_version": 1,
        "processes": [{"wall_s": 2.0, "threads": [{"wall_s": 1.5, "name": "a"}]}],
        "deep": {"threads": [{"wall_s": 1.0, "functions": [{"wall_s": 0.5}]}]},
        "tree": {"workers": [{"wall_s": 3.0, "busy_s": 2.0}]},
        "summary": {"wall_s": 4.0},
        "verdict": {"current_model": {"kind": "processes"}},
    }
    before = copy.deepcopy(old)
    new = profile_from_v1(old)
    assert old == before  # the caller's document is left alone
    assert new == {
        "schema_version": 2,
        "processes": [{"alive_s": 2.0, "threads": [{"alive_s": 1.5, "name": "a"}]}],
        # a deep function's wall_s is its wall time, and keeps its name
        "deep": {"threads": [{"alive_s": 1.0, "functions": [{"wall_s": 0.5}]}]},
        "tree": {"workers": [{"alive_s": 3.0, "busy_s": 2.0}]},
        "summary": {"wall_s": 4.0},  # the run's wall time
        "verdict": {"current_model": {"kind": "multiprocessing"}},
    }
    for kind in ("serial", "asyncio"):
        moved = profile_from_v1({"verdict": {"current_model": {"kind": kind}}})
        assert moved["verdict"]["current_model"]["kind"] == kind
        assert kind in CURRENT_MODELS


def test_a_version_1_result_loads_with_todays_model_words() -> None:
    old = json.loads((DATA / "diff" / "base.result.json").read_text())
    assert old["schema_version"] == 1
    result = GateResult.from_dict(old)
    assert result.schema_version == 2
    (target,) = result.targets
    assert target.measurement is not None
    assert target.measurement.current_model == "multiprocessing"
    assert all(f.figures.get("current_model") in (None, *CURRENT_MODELS) for f in target.findings)
    assert result_from_v1({"targets": [{"baseline": {"current_model": "threads"}}]}) == {
        "schema_version": 2,
        "targets": [{"baseline": {"current_model": "threading"}}],
    }


def test_the_report_of_an_old_profile_is_the_report_of_the_same_profile_saved_today(
    tmp_path: Path,
) -> None:
    today = tmp_path / "today.json"
    today.write_text(Profile.load(OLD["cpu_threads"]).to_json())
    assert json.loads(today.read_text())["schema_version"] == 2
    html = HtmlRenderer().render(Profile.load(OLD["cpu_threads"]))
    assert html == HtmlRenderer().render(Profile.load(today))
    assert "runs</a> <b>threads</b> now" in html  # prose keeps its wording


@pytest.mark.parametrize("fmt", ["html", "md", "json", "speedscope", "chrome-trace"])
def test_report_renders_an_old_profile_in_every_format(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    proc = concdiag(
        "report", str(OLD["cpu_threads"]), "--format", fmt, "-o", str(out), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    if fmt == "json":
        data = json.loads(out.read_text())
        assert data["schema_version"] == 2
        jsonschema.validate(data, load_schema())


def test_report_renders_the_large_old_profile(tmp_path: Path) -> None:
    out = tmp_path / "io.html"
    proc = concdiag("report", str(OLD["io_threads"]), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "threads</b> now" in out.read_text()


@pytest.mark.parametrize("name", sorted(OLD))
def test_diff_compares_an_old_profile_with_a_new_one(tmp_path: Path, name: str) -> None:
    """The same recording analysed today: nothing regressed, and the verdict did not
    "change" just because the current model is spelled differently now."""
    new = tmp_path / "new.json"
    new.write_text(profile_of(load_recording(name), f"{name}.py").to_json())
    result = tmp_path / "result.json"
    proc = concdiag("diff", str(OLD[name]), str(new), "--result", str(result), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (target,) = json.loads(result.read_text())["targets"]
    assert target["baseline"]["current_model"] == target["measurement"]["current_model"]
    assert not [f for f in target["findings"] if f["rule"] == "verdict-changed"]


def test_a_future_version_is_a_one_line_usage_error(tmp_path: Path) -> None:
    data = _old("cpu_threads")
    data["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    proc = concdiag("report", str(path), "--format", "md", cwd=tmp_path)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"profile schema version {SCHEMA_VERSION + 1} is not supported" in lines[0]
