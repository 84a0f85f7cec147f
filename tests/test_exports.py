"""speedscope and Chrome trace exports: valid against their published formats, figures kept."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from concdiag.model import STATE_KEYS, Profile, Timeline
from concdiag.render import FORMATS, get_renderer
from concdiag.render.chrometrace import ChromeTraceRenderer
from concdiag.render.speedscope import SpeedscopeRenderer
from concdiag.render.views import trimmed_stacks
from helpers import PID, profile_of, synthetic
from test_render import HOSTILE, hostile_profile

DATA = Path(__file__).parent / "data"
BOOT = "/x/site-packages/concdiag/collectors/_bootstrap.py"


def schema(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())  # type: ignore[no-any-return]


def busy_profile() -> Profile:
    work = (("<module>", "/app/main.py", 1), ("work", "/app/main.py", 10))
    wait = (("<module>", "/app/main.py", 1), ("fetch", "/app/net.py", 22))
    rec = synthetic(
        {PID: ["H", "H", "W", "I"], PID + 1: ["W", "H", "N", "L"], PID + 2: ["I", "S", "-", "H"]},
        ticks=400,
        stacks={PID: work, PID + 1: wait, PID + 2: work},
    )
    return profile_of(rec)


@pytest.mark.parametrize("profile", [busy_profile(), hostile_profile()], ids=["busy", "hostile"])
def test_speedscope_export_is_valid_and_keeps_each_threads_time(profile: Profile) -> None:
    doc = json.loads(SpeedscopeRenderer().render(profile))
    jsonschema.validate(doc, schema("speedscope-file-format-schema.json"))
    frames = doc["shared"]["frames"]
    interval = 1 / profile.run.rate_hz
    expected: dict[str, float] = defaultdict(float)
    names = {(p.pid, t.tid): t.name for p in profile.processes for t in p.threads}
    for s in profile.stacks:
        expected[f"{names[(s.pid, s.tid)]} (pid {s.pid}, tid {s.tid})"] += s.count * interval
    assert {p["name"] for p in doc["profiles"]} == set(expected)
    for p in doc["profiles"]:
        assert len(p["samples"]) == len(p["weights"])
        assert sum(p["weights"]) == pytest.approx(expected[p["name"]], abs=1e-4)
        assert p["endValue"] == pytest.approx(sum(p["weights"]), abs=1e-4)
        for sample in p["samples"]:
            assert all(0 <= i < len(frames) for i in sample)
            # the outermost frame is the thread's state
            assert frames[sample[0]]["name"].startswith("[")
    if profile.frames and profile.frames[0].function == HOSTILE:
        assert any(f["name"] == HOSTILE for f in frames)  # JSON keeps names verbatim


def test_speedscope_states_split_time_as_the_profile_does() -> None:
    profile = busy_profile()
    doc = json.loads(SpeedscopeRenderer().render(profile))
    frames = doc["shared"]["frames"]
    by_state: dict[str, float] = defaultdict(float)
    for p in doc["profiles"]:
        for sample, weight in zip(p["samples"], p["weights"]):
            by_state[frames[sample[0]]["name"]] += weight
    interval = 1 / profile.run.rate_hz
    held = sum(s.count for s in profile.stacks if s.state == "gil_held") * interval
    assert by_state["[GIL held]"] == pytest.approx(held, abs=1e-4)
    assert held > 0


@pytest.mark.parametrize("profile", [busy_profile(), hostile_profile()], ids=["busy", "hostile"])
def test_chrome_trace_is_valid_and_names_every_thread(profile: Profile) -> None:
    doc = json.loads(ChromeTraceRenderer().render(profile))
    jsonschema.validate(doc, schema("chrome-trace-event-schema.json"))
    events = doc["traceEvents"]
    named = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    assert named == {(p.pid, t.tid): t.name for p in profile.processes for t in p.threads}
    counters = [e for e in events if e["ph"] == "C" and e["name"] == "cores used"]
    assert len(counters) == len(profile.timeline.t_s)
    assert "recommend" in doc["otherData"]["verdict"]


def test_chrome_trace_state_slices_tile_each_lane_without_overlap() -> None:
    profile = busy_profile()
    doc = json.loads(ChromeTraceRenderer().render(profile))
    tl = profile.timeline
    slices: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            assert e["name"] in {
                "GIL held",
                "GIL wait",
                "native CPU",
                "I/O wait",
                "sync wait",
                "unknown",
            }
            slices[e["tid"]].append((e["ts"], e["dur"]))
    for lane in tl.lanes:
        spans = sorted(slices[lane.tid])
        for (a, da), (b, _) in itertools.pairwise(spans):
            assert a + da <= b + 1e-6
        alive_bins = sum(
            1 for i in range(len(tl.t_s)) if sum(lane.shares[k][i] for k in STATE_KEYS) > 0
        )
        covered_us = sum(d for _, d in spans)
        assert covered_us == pytest.approx(alive_bins * tl.bin_s * 1e6, rel=1e-6)


def test_launcher_frames_are_trimmed_from_exported_stacks() -> None:
    stack = (
        ("<module>", BOOT, 300),
        ("run_path", "<frozen runpy>", 280),
        ("<module>", "/app/main.py", 1),
        ("_bootstrap_inner", BOOT, 90),
        ("work", "/app/main.py", 10),
    )
    profile = profile_of(synthetic({PID: ["H"]}, stacks={PID: stack}))
    (only,) = trimmed_stacks(profile)
    assert [profile.frames[i].function for i in only.frames] == ["<module>", "work"]
    doc = json.loads(SpeedscopeRenderer().render(profile))
    used = {i for p in doc["profiles"] for s in p["samples"] for i in s}
    assert all(doc["shared"]["frames"][i].get("file") != BOOT for i in used)


def test_every_format_renders_deterministically() -> None:
    profile = busy_profile()
    assert "speedscope" in FORMATS and "chrome-trace" in FORMATS
    for fmt in FORMATS:
        renderer = get_renderer(fmt)
        assert renderer.render(profile) == renderer.render(profile), fmt


def empty_profile() -> Profile:
    """Nothing observed: no processes, stacks, timeline bins or speedup points."""
    p = busy_profile()
    empty = Timeline(bin_s=0.05, t_s=[], cores_used=[], gil_utilisation=[], lanes=[])
    return dataclasses.replace(
        p,
        stacks=[],
        frames=[],
        processes=[],
        timeline=empty,
        verdict=dataclasses.replace(p.verdict, predicted_speedup=[]),
        run=dataclasses.replace(p.run, rate_hz=0.0),
    )


def test_an_empty_profile_renders_in_every_format() -> None:
    profile = empty_profile()
    for fmt in FORMATS:
        assert get_renderer(fmt).render(profile), fmt
    jsonschema.validate(
        json.loads(SpeedscopeRenderer().render(profile)),
        schema("speedscope-file-format-schema.json"),
    )
    jsonschema.validate(
        json.loads(ChromeTraceRenderer().render(profile)),
        schema("chrome-trace-event-schema.json"),
    )
