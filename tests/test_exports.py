"""Exports (speedscope, Chrome trace, gecko, pprof): valid against their published formats or
the tools that read them, figures kept."""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from concdiag.model import STATE_KEYS, Profile, Timeline
from concdiag.render import FORMATS, get_renderer
from concdiag.render.chrometrace import ChromeTraceRenderer
from concdiag.render.gecko import GeckoRenderer
from concdiag.render.pprof import PprofRenderer, sample_type_names, shown_function
from concdiag.render.speedscope import SpeedscopeRenderer
from concdiag.render.views import lane_runs, trimmed_stacks
from gecko_layout import differences
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


# --- Firefox Profiler (gecko) ----------------------------------------------------------------

GECKO_REFERENCE = DATA / "gecko-cpython-3.15.2-reference.json"


@pytest.mark.parametrize("profile", [busy_profile(), hostile_profile()], ids=["busy", "hostile"])
def test_gecko_export_has_the_layout_cpython_315_writes(profile: Profile) -> None:
    reference = json.loads(GECKO_REFERENCE.read_text())
    doc = json.loads(GeckoRenderer().render(profile))
    assert differences(reference, doc) == []


def test_gecko_layout_check_finds_what_is_wrong() -> None:
    """The layout check itself: a missing column, a ragged table and a dangling index."""
    reference = json.loads(GECKO_REFERENCE.read_text())
    assert differences(reference, reference) == []
    broken = json.loads(GeckoRenderer().render(busy_profile()))
    del broken["threads"][0]["frameTable"]["inlineDepth"]
    broken["threads"][1]["funcTable"]["name"].append(0)
    broken["threads"][2]["samples"]["stack"][0] = 10_000
    found = differences(reference, broken)
    assert any("lacks 'inlineDepth'" in f for f in found)
    assert any("funcTable.name has" in f for f in found)
    dangling = json.loads(GeckoRenderer().render(busy_profile()))
    dangling["threads"][2]["samples"]["stack"][0] = 10_000
    assert any("samples.stack points past" in f for f in differences(reference, dangling))


def test_gecko_export_keeps_each_threads_samples_and_timeline() -> None:
    profile = busy_profile()
    doc = json.loads(GeckoRenderer().render(profile))
    strings = doc["shared"]["stringArray"]
    counts: dict[int, int] = defaultdict(int)
    for s in trimmed_stacks(profile):
        counts[s.tid] += s.count
    assert {t["tid"] for t in doc["threads"]} == set(counts)
    tl = profile.timeline
    for thread in doc["threads"]:
        assert sum(thread["samples"]["weight"]) == counts[thread["tid"]]
        # each sample's outermost frame is the thread's state
        stacks, frames, funcs = thread["stackTable"], thread["frameTable"], thread["funcTable"]
        for leaf in set(thread["samples"]["stack"]):
            node = leaf
            while stacks["prefix"][node] is not None:
                node = stacks["prefix"][node]
            assert strings[funcs["name"][frames["func"][stacks["frame"][node]]]].startswith("[")
        markers = thread["markers"]
        lane = next(x for x in tl.lanes if x.tid == thread["tid"])
        stretches = [r for r in lane_runs(lane, len(tl.t_s)) if r.state != "unknown"]
        assert markers["length"] == len(stretches)
        for i, stretch in enumerate(stretches):
            assert markers["startTime"][i] == pytest.approx(stretch.start * tl.bin_s * 1000)
            assert markers["endTime"][i] - markers["startTime"][i] == pytest.approx(
                markers["data"][i]["duration"]
            )
    held = [
        strings[n]
        for t in doc["threads"]
        for n, c in zip(t["markers"]["name"], t["markers"]["category"], strict=True)
        if c
        == doc["meta"]["categories"].index(
            next(c for c in doc["meta"]["categories"] if c["name"] == "GIL held")
        )
    ]
    assert held and set(held) == {"Has GIL"}  # CPython's own name for the same state


# --- pprof -----------------------------------------------------------------------------------


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's fields in order: (number, varint value or length-delimited bytes)."""
    out: list[tuple[int, int | bytes]] = []
    i = 0

    def varint() -> int:
        nonlocal i
        value = shift = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 2:
            size = varint()
            out.append((number, data[i : i + size]))
            i += size
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def _packed_ints(payload: bytes) -> list[int]:
    values = []
    value = shift = 0
    for byte in payload:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
    return values


def decoded_pprof(profile: Profile) -> dict[str, Any]:
    message = _fields(gzip.decompress(PprofRenderer().render(profile)))
    strings = [bytes(v).decode() for n, v in message if n == 6 and isinstance(v, bytes)]
    types = []
    for n, v in message:
        if n == 1 and isinstance(v, bytes):
            types.append(strings[dict(_fields(v))[1]])  # type: ignore[index]
    samples = []
    for n, v in message:
        if n != 2 or not isinstance(v, bytes):
            continue
        fields = _fields(v)
        values = _packed_ints(next(b for k, b in fields if k == 2))  # type: ignore[arg-type]
        labels = {}
        for k, b in fields:
            if k == 3 and isinstance(b, bytes):
                label = dict(_fields(b))
                key = strings[label[1]]  # type: ignore[index]
                # proto3 leaves out zero values: an empty string label has neither field
                labels[key] = label[3] if 3 in label else strings[label.get(2, 0)]  # type: ignore[index]
        samples.append((values, labels))
    return {"strings": strings, "types": types, "samples": samples}


@pytest.mark.parametrize("profile", [busy_profile(), hostile_profile()], ids=["busy", "hostile"])
def test_pprof_export_keeps_each_threads_time_by_state(profile: Profile) -> None:
    doc = decoded_pprof(profile)
    assert doc["strings"][0] == ""
    assert doc["types"] == sample_type_names()
    interval_ns = round(1e9 / profile.run.rate_hz)
    expected: dict[tuple[int, str], int] = defaultdict(int)
    for s in trimmed_stacks(profile):
        expected[(s.tid, s.state)] += s.count * interval_ns
    got: dict[tuple[int, str], int] = defaultdict(int)
    for values, labels in doc["samples"]:
        state = labels["state"]
        assert values[0] == values[1 + STATE_KEYS.index(state)]
        assert sum(values[1:]) == values[0]  # one state column holds the sample's time
        got[(labels["tid"], state)] += values[0]
    assert got == expected
    names = {t.name for p in profile.processes for t in p.threads}
    assert {labels["thread"] for _, labels in doc["samples"]} <= names


def test_pprof_names_module_level_code_so_pprof_does_not_drop_it() -> None:
    assert shown_function("<module>", "/app/main.py") == "main.py:module"
    assert shown_function("work", "/app/main.py") == "work"
    assert "main.py:module" in decoded_pprof(busy_profile())["strings"]


GO = shutil.which("go")


@pytest.mark.skipif(
    GO is None and not os.environ.get("CONCDIAG_REQUIRE_GO"),
    reason="Go's pprof is not installed (.ci/run installs Debian's golang-go)",
)
@pytest.mark.parametrize("profile", [busy_profile(), hostile_profile()], ids=["busy", "hostile"])
def test_gos_own_pprof_reads_the_export(profile: Profile, tmp_path: Path) -> None:
    assert GO is not None, "CONCDIAG_REQUIRE_GO is set and go is not on PATH"
    path = tmp_path / "p.pb.gz"
    path.write_bytes(PprofRenderer().render(profile))
    env = {**os.environ, "HOME": str(tmp_path), "GOCACHE": str(tmp_path / "gocache")}

    def pprof(*args: str) -> str:
        run = subprocess.run(
            [GO, "tool", "pprof", *args, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    interval = 1 / profile.run.rate_hz
    total = sum(s.count for s in trimmed_stacks(profile)) * interval
    top = pprof("-top", "-unit=ms")
    assert "Type: wall" in top
    assert f"Total samples = {round(total * 1000)}ms" in top.replace(",", "")
    for state in STATE_KEYS:
        seconds = sum(s.count for s in trimmed_stacks(profile) if s.state == state) * interval
        by_state = pprof(f"-sample_index={state}", "-top", "-unit=ms")
        assert f"Type: {state}" in by_state
        if seconds:
            assert f"Total samples = {round(seconds * 1000)}ms" in by_state.replace(",", "")
    tags = pprof("-tags")
    for t in (t for p in profile.processes for t in p.threads):
        if any(s.tid == t.tid for s in profile.stacks):
            assert t.name in tags


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_export_carries_a_secret_argument(fmt: str) -> None:
    """A process's command line is masked when the profile is built; every export shows it
    as built."""
    work = (("<module>", "/app/main.py", 1), ("work", "/app/main.py", 10))
    rec = synthetic({PID: ["H", "S"]}, ticks=100, stacks={PID: work})
    rec.commands[PID] = ["python", "app.py", "--password", "hunter2", "--token=s3cr3t"]
    out = get_renderer(fmt).render(profile_of(rec))
    text = gzip.decompress(out).decode("utf-8", "replace") if isinstance(out, bytes) else out
    assert "app.py" in text or fmt in ("speedscope", "md")  # the command is there...
    assert "hunter2" not in text and "s3cr3t" not in text  # ...its secrets are not
