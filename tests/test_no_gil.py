"""A run without a GIL (free-threaded build, GIL off): GIL states and figures are absent, not
zero; every renderer and the gate say "no GIL"; the verdict names what limits threads."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import jsonschema
import pytest

from concdiag.collectors.attach import note_gil_switch
from concdiag.collectors.runtime_reader import GilSwitchWatch, RuntimeReader
from concdiag.gate.diff import compare
from concdiag.gate.evaluate import evaluate
from concdiag.gate.measure import measure
from concdiag.gate.policy import DiffLimits, Rules
from concdiag.gate.render.markdown import MarkdownResultRenderer
from concdiag.gate.result import GateResult, TargetResult
from concdiag.model import Profile
from concdiag.recording.recording import RecordingDraft
from concdiag.render import FORMATS, get_renderer
from concdiag.render.text import summary_text
from helpers import PID, load_schema, profile_of, synthetic, target_info
from process_images import RUNTIME_AT, FakeThread, image

STACK = (("<module>", "/app/work.py", 1), ("crunch", "/app/work.py", 10))


def _profile(gil_enabled: bool, pattern: dict[int, list[str]] | None = None) -> Profile:
    pattern = pattern or {PID: ["L"], PID + 1: ["H"], PID + 2: ["H"], PID + 3: ["H"]}
    recording = synthetic(
        pattern, ticks=300, gil_enabled=gil_enabled, stacks=dict.fromkeys(pattern, STACK)
    )
    return profile_of(recording)


@pytest.fixture(scope="module")
def no_gil() -> Profile:
    return _profile(gil_enabled=False)


def test_gil_states_and_figures_are_absent_not_zero(no_gil: Profile) -> None:
    for process in no_gil.processes:
        assert process.gil.wait_s is None and process.gil.utilisation is None
        assert process.gil.mean_waiting_threads is None and not process.gil.enabled
        for thread in process.threads:
            assert thread.states.gil_held is None and thread.states.gil_wait is None
            assert thread.state_seconds.gil_held is None and thread.gil_held_share is None
            assert thread.states.total() == pytest.approx(1.0)
    summary = no_gil.summary
    assert summary.worker_seconds.gil_held is None and summary.gil_wait_share is None
    assert all(
        set(lane.shares).isdisjoint({"gil_held", "gil_wait"}) for lane in no_gil.timeline.lanes
    )
    data = no_gil.to_dict()
    assert data["summary"]["worker_seconds"]["gil_held"] is None
    jsonschema.validate(data, load_schema())
    assert Profile.from_dict(json.loads(no_gil.to_json())).to_dict() == data


def test_with_the_gil_the_figures_stay_numbers() -> None:
    profile = _profile(gil_enabled=True)
    assert profile.summary.gil_wait_share is not None
    assert all(t.states.gil_held is not None for p in profile.processes for t in p.threads)


def test_the_verdict_names_what_limits_threads_without_a_gil(no_gil: Profile) -> None:
    verdict = no_gil.verdict
    assert verdict.recommendation == "threading" and verdict.cpu_kind is None
    reason = next(r for r in verdict.reasons if r.rule == "free_threaded")
    assert "waiting on locks" in reason.message and "of 2 cores" in reason.message
    assert reason.figures["cores"] == 2 and reason.figures["gil_enabled"] is False
    assert reason.figures["cores_used_mean"] == pytest.approx(
        no_gil.summary.cores_used_mean, abs=1e-3
    )
    split = next(r for r in verdict.reasons if r.rule == "time_split")
    assert "no GIL" in split.message and "python_share_of_cpu" not in split.figures
    assert "GIL" not in "".join(r.rule for r in verdict.reasons if r.rule.startswith("cpu_bound"))
    assert "with no GIL" in verdict.summary


def test_lock_waits_limit_threads_without_a_gil() -> None:
    work = ["H", "H", "H", "L"]
    pattern = {PID: ["H"], PID + 1: work, PID + 2: work[::-1]}
    reason = next(r for r in _profile(False, pattern).verdict.reasons if r.rule == "free_threaded")
    assert reason.figures["sync_share"] == pytest.approx(2 / 12, abs=0.01)
    assert "17% of worker time waiting on locks" in reason.message


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_a_run_without_a_gil(no_gil: Profile, fmt: str) -> None:
    out = get_renderer(fmt).render(no_gil)
    text = out if isinstance(out, str) else gzip.decompress(out).decode("utf-8", "replace")
    if fmt in ("speedscope", "chrome-trace", "json", "gecko"):
        json.loads(text)
    if fmt == "gecko":
        assert "Has GIL" not in text and "Waiting for GIL" not in text
    if fmt == "chrome-trace":
        assert "GIL utilisation" not in text
    if fmt == "html":
        assert "no GIL" in text and "GIL wait s</th>" in text
    if fmt == "md":
        assert "| GIL | no GIL |" in text
        assert "GIL held |" not in text.split("| process | thread |")[1].splitlines()[0]


def test_terminal_summary_says_no_gil(no_gil: Profile) -> None:
    text = summary_text(no_gil, [])
    assert "GIL: no GIL" in text and "0%" not in text.split("GIL:")[1].splitlines()[0]


def test_the_gate_copes_with_no_gil(no_gil: Profile, tmp_path: Path) -> None:
    head = measure([no_gil], tmp_path)
    assert "gil_wait_share" not in head.figures
    assert "gil_held" not in head.worker_shares
    rules = dataclasses.replace(Rules(), max_gil_wait_share=0.1)
    finding = next(f for f in evaluate("t", head, rules, None) if f.rule == "gil-wait-share")
    assert finding.outcome == "passed" and "No GIL" in finding.message
    base = measure([_profile(gil_enabled=True)], tmp_path)
    changes, findings = compare("t", base, head, DiffLimits(), rules, None)
    gil = next(f for f in findings if f.rule == "gil-wait-regression")
    assert gil.outcome == "passed" and "No GIL in HEAD" in gil.message
    assert not any(c.figure == "worker_gil_held_share" for c in changes)
    assert any(c.figure == "worker_native_share" for c in changes)


def test_gate_markdown_says_no_gil_per_thread(no_gil: Profile, tmp_path: Path) -> None:
    head = measure([no_gil], tmp_path)
    base = measure([_profile(gil_enabled=True)], tmp_path)
    changes, findings = compare("t", base, head, DiffLimits(), Rules(), None)
    target = TargetResult(
        "t", ["python"], "script.py", [], [], "passed", head, findings, base, changes
    )
    result = GateResult("diff", True, 0, "defaults", "stated", [target])
    md = MarkdownResultRenderer().render(result)
    assert "→ no GIL" in md  # per-thread GIL shares
    assert "| gil\\_wait\\_share | 0.0% | no GIL |" in md


def test_attach_rereads_the_gil_switch_and_records_when_it_changed() -> None:
    threads = [FakeThread(4100, 1), FakeThread(4101, 2)]
    memory = image((3, 14), threads, holder=None, free_threaded=True, gil_on=False)
    reader = RuntimeReader.open(memory, RUNTIME_AT)
    watch = GilSwitchWatch(reader, enabled=False, every_s=1.0)
    assert watch.poll(0.0) is None  # still off
    turned_on = image((3, 14), threads, holder=0, free_threaded=True, gil_on=True)
    memory.regions.update(turned_on.regions)  # an import turned it back on
    assert watch.poll(0.5) is None  # not re-read before a second has passed
    assert watch.poll(1.2) is True
    assert watch.poll(2.5) is None  # unchanged since
    assert watch.changes == [(1.2, True)] and watch.enabled


def test_attach_reads_the_gil_as_on_from_when_it_came_back_on() -> None:
    memory = image((3, 14), [FakeThread(4100, 1)], free_threaded=True, gil_on=False)
    watch = GilSwitchWatch(RuntimeReader.open(memory, RUNTIME_AT), enabled=False)
    recording = RecordingDraft(rate_hz=100.0, target=target_info(gil_enabled=False))
    memory.regions.update(image((3, 14), [FakeThread(4100, 1)], free_threaded=True).regions)
    note_gil_switch(watch, 3.0, recording)
    assert recording.target.gil_enabled
    assert recording.notes[0].startswith("the GIL was turned back on 3.0 s into sampling")
