"""Deep mode's join of yappi's tables with the sampler, on recorded runs and synthetic data."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest

from concdiag.analysis import replay_profile
from concdiag.analysis.deep import FunctionResolver, behaviour, build_deep
from concdiag.collectors.yappi_tables import DeepSession
from concdiag.model import Frame, Profile, StackCount, States
from concdiag.recording.yappi import YappiFunction, YappiRun, YappiThread
from concdiag.render.html import HtmlRenderer
from concdiag.render.markdown import MarkdownRenderer
from conftest import load_recording
from helpers import BOOTSTRAP, PID, agent_module, context, load_schema, synthetic


def probe_module() -> ModuleType:
    return agent_module("deep_probe")


def deep_profile(name: str) -> Profile:
    return replay_profile(load_recording(name), context(f"{name}.py"))


# -- recorded runs -------------------------------------------------------------------------


def test_threads_cpu_comes_from_yappi_and_wall_from_the_sampler() -> None:
    profile = deep_profile("cpu_threads_deep")
    deep = profile.deep
    assert deep is not None
    assert (deep.clock, deep.cpu_source) == ("cpu", "yappi")
    workers = [t for t in deep.threads if t.name.startswith("cpu-worker-")]
    assert len(workers) == 4
    sampled = {t.tid: t for p in profile.processes for t in p.threads}
    for t in workers:
        crunch = next(f for f in t.functions if f.function == "crunch")
        assert crunch.calls == 1
        assert crunch.line == 16  # yappi's definition line, not py-spy's current line
        assert t.cpu_s is not None and crunch.cpu_s is not None
        # crunch is all the worker does: its CPU is the thread's, to within 2%
        assert crunch.cpu_s == pytest.approx(t.cpu_s, rel=0.02)
        assert crunch.cpu_s <= crunch.wall_s
        # the sampler's wall time for crunch is nearly the thread's alive time
        assert crunch.wall_s == pytest.approx(sampled[t.tid].alive_s, abs=0.4)
        assert crunch.wall_s == pytest.approx(crunch.state_seconds.total())
        assert crunch.state_seconds.gil_wait > 0 and crunch.state_seconds.gil_held > 0
    main = next(t for t in deep.threads if t.name == "MainThread")
    join = next(f for f in main.functions if f.function.endswith("_wait_for_tstate_lock"))
    assert join.behaviour == "lock_wait"
    assert join.cpu_s is not None and join.cpu_s < 0.05 * join.wall_s


def test_no_concdiag_frames_in_deep_tables() -> None:
    profile = deep_profile("cpu_threads_deep")
    assert profile.deep is not None
    for t in profile.deep.threads:
        for f in t.functions:
            assert "/concdiag/agent/" not in f.file, f
            assert "runpy" not in f.file
            assert f.function not in ("_send", "dumps", "JSONEncoder.encode"), f


def test_asyncio_awaits_are_named() -> None:
    profile = deep_profile("asyncio_awaits_deep")
    deep = profile.deep
    assert deep is not None
    assert (deep.clock, deep.cpu_source) == ("wall", "sampler")
    (main,) = deep.threads
    rows = {f.function: f for f in main.functions}
    fetch = rows["slow_fetch"]
    assert fetch.calls == 2  # two coroutines, each resumed once: yappi counts 2, not 4
    assert fetch.behaviour == "awaits"
    assert fetch.awaiting_s == pytest.approx(1.2, abs=0.1)  # 2 x 0.6 s asleep
    assert rows["checksum"].behaviour == "computes"
    assert rows["checksum"].calls == 4


def test_deep_profile_round_trips_and_validates() -> None:
    profile = deep_profile("asyncio_awaits_deep")
    data = json.loads(profile.to_json())
    jsonschema.validate(data, load_schema())
    again = Profile.from_dict(data)
    assert again.deep is not None
    assert json.loads(again.to_json())["deep"] == data["deep"]
    assert Profile.from_dict(json.loads(again.to_json())).to_json() == again.to_json()


def test_html_and_markdown_show_the_deep_tables() -> None:
    profile = Profile.from_dict(json.loads(deep_profile("cpu_threads_deep").to_json()))
    html = HtmlRenderer().render(profile)
    assert 'id="deep"' in html
    assert html.count('class="sortable deep-functions"') == 5  # one table per thread
    assert "yappi schedule count" in html
    # hot-code rows link to their deep rows, and the targets exist
    links = html.split('href="#deep-')[1:]
    assert links
    for link in links:
        anchor = "deep-" + link.split('"', 1)[0]
        assert f'id="{anchor}"' in html, anchor
    # the flame graph's frames carry their deep row, for the link under the graph
    from concdiag.render.html import report_view

    frames = report_view(profile)["data"]["flame"]["frames"]
    crunch = next(f for f in frames if f[0] == "crunch")
    assert crunch[3] and f'id="{crunch[3]}"' in html
    md = MarkdownRenderer().render(profile)
    assert "**Deep** (yappi" in md
    assert "crunch" in md


def test_report_without_deep_has_no_deep_section() -> None:
    profile = replay_profile(load_recording("cpu_threads"), context("cpu_threads.py"))
    assert profile.deep is None
    assert 'id="deep"' not in HtmlRenderer().render(profile)
    assert "**Deep**" not in MarkdownRenderer().render(profile)


def test_hostile_function_names_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    run = YappiRun(
        pid=PID,
        clock="cpu",
        clock_reason="",
        yappi_version="1.7.6",
        python="3.11.7",
        duration_s=1.0,
        collect_s=0.0,
        threads=(
            YappiThread(
                0, PID, 1, hostile, 1.0, 1, 1, (YappiFunction(hostile, "/x.py", 1, 1, 1, 1, 1),)
            ),
        ),
    )
    rec = synthetic({PID: ["H"] * 50}, stacks={PID: ((hostile, "/x.py", 2),)})
    rec.yappi = run
    profile = replay_profile(rec, context("x.py"))
    html = HtmlRenderer().render(profile)
    assert hostile not in html
    assert "&lt;script&gt;" in html
    assert hostile not in MarkdownRenderer().render(profile)


# -- the join, synthetic ---------------------------------------------------------------------


def test_resolver_keeps_same_named_methods_apart() -> None:
    functions = [
        YappiFunction("A.run", "/m.py", 10, 1, 1, 1.0, 1.0),
        YappiFunction("B.run", "/m.py", 30, 1, 1, 1.0, 1.0),
    ]
    resolver = FunctionResolver(functions)
    assert resolver.identity("run", "/m.py", 12) == ("/m.py", "run", 10)
    assert resolver.identity("B.run", "/m.py", 35) == ("/m.py", "run", 30)
    assert resolver.identity("run", "/other.py", 12) == ("/other.py", "run", None)


def test_join_sums_inclusive_and_self_samples_per_state() -> None:
    frames = [Frame("outer", "/m.py", 5), Frame("inner", "/m.py", 12), Frame("inner", "/m.py", 13)]
    stacks = [
        StackCount(PID, PID, "gil_held", [0, 1], 30),
        StackCount(PID, PID, "io", [0, 2], 50),  # another line of inner: the same function
        StackCount(PID, PID, "gil_wait", [0], 20),
    ]
    run = YappiRun(
        PID,
        "cpu",
        "",
        "1.7.6",
        "3.11",
        1.0,
        0.0,
        (
            YappiThread(
                0,
                PID,
                1,
                "MainThread",
                0.5,
                3,
                2,
                (
                    YappiFunction("outer", "/m.py", 4, 1, 1, 0.5, 0.1),
                    YappiFunction("inner", "/m.py", 11, 7, 7, 0.4, 0.4),
                ),
            ),
        ),
    )
    profile = replay_profile(synthetic({PID: ["H"] * 100}), context("m.py"))
    deep = build_deep(run, profile.processes, frames, stacks, 100.0)
    rows = {f.function: f for f in deep.threads[0].functions}
    inner, outer = rows["inner"], rows["outer"]
    assert (inner.calls, inner.line, inner.cpu_s) == (7, 11, 0.4)
    assert inner.wall_s == pytest.approx(0.8)
    assert inner.wall_self_s == pytest.approx(0.8)
    assert inner.state_seconds.io == pytest.approx(0.5)
    assert inner.behaviour == "io_wait"  # 0.5 of its 0.8 s is I/O: 62.5%, above 60%
    assert outer.wall_s == pytest.approx(1.0)
    assert outer.wall_self_s == pytest.approx(0.2)
    assert outer.behaviour == "mixed"
    assert deep.sched_count == 3


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (States(gil_held=0.7, native=0.1, io=0.2), "computes"),
        (States(gil_held=0.2, gil_wait=0.8), "gil_wait"),
        (States(io=0.9, gil_held=0.1), "io_wait"),
        (States(sync=0.61, gil_held=0.39), "lock_wait"),
        (States(gil_held=0.5, io=0.5), "mixed"),
        (States(), "unsampled"),
    ],
)
def test_behaviour_rule(seconds: States, expected: str) -> None:
    assert behaviour(seconds, None, None) == expected


def test_awaiting_beats_the_sampled_states() -> None:
    assert behaviour(States(gil_held=0.1), 1.0, 0.9) == "awaits"
    assert behaviour(States(gil_held=0.6), 1.0, 0.4) == "computes"


# -- collector and probe pieces ------------------------------------------------------------


def test_incomplete_dumps_are_reported_not_raised(tmp_path: Path) -> None:
    session = DeepSession("cpu")
    try:
        run, why = session.read()
        assert run is None and why is not None and "os._exit or SIGKILL" in why
        session.output.write_text('{"format": "concdiag-yappi", "error": "boom"}')
        run, why = session.read()
        assert run is None and why is not None and "boom" in why
        session.output.write_text("{not json")
        run, why = session.read()
        assert run is None and why is not None
    finally:
        session.cleanup()
    with pytest.raises(ValueError):
        YappiRun.from_dict({"format": "concdiag-yappi", "threads": [{"ctx_id": 1}]})


def test_recording_keeps_yappi_tables(tmp_path: Path) -> None:
    rec = load_recording("asyncio_awaits_deep")
    assert rec.yappi is not None
    rec.save(tmp_path / "again.json")
    again = type(rec).load(tmp_path / "again.json")
    assert again.yappi == rec.yappi


def test_probe_clock_choice() -> None:
    probe = probe_module()
    assert probe.choose_clock("auto", b"import asyncio\n")[0] == "wall"
    assert probe.choose_clock("auto", b"async def f():\n  pass\n")[0] == "wall"
    assert probe.choose_clock("auto", b"import threading\n")[0] == "cpu"
    assert probe.choose_clock("cpu", b"import asyncio\n")[0] == "cpu"
    assert probe.choose_clock("wall", b"")[0] == "wall"


def test_probe_hides_what_only_concdiag_calls() -> None:
    probe = probe_module()
    boot = str(BOOTSTRAP)  # in the target, the probe knows its own folder by its real path
    # name, module, line, ncall, nactualcall, builtin, ttot, tsub, index, children, ctx_id
    entries = [
        ("main", boot, 1, 1, 1, 0, 1, 0, 0, [(1, 0, 0, 0, 0)], 0),
        ("user", "/app.py", 1, 1, 1, 0, 1, 0, 1, [(3, 0, 0, 0, 0)], 0),
        ("_send", boot, 1, 1, 1, 0, 1, 0, 2, [(3, 0, 0, 0, 0), (4, 0, 0, 0, 0)], 0),
        ("dumps", "/json/__init__.py", 1, 1, 1, 0, 1, 0, 3, [], 0),  # user calls it too
        ("encode", "/json/encoder.py", 1, 1, 1, 0, 1, 0, 4, [(5, 0, 0, 0, 0)], 0),
        ("iterencode", "/json/encoder.py", 1, 1, 1, 0, 1, 0, 5, [], 0),
    ]
    assert probe._concdiag_only(entries) == {0, 2, 4, 5}


def test_probe_offers_own_yappi_only_to_a_matching_interpreter(tmp_path: Path) -> None:
    import importlib.machinery

    probe = probe_module()
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (tmp_path / f"_yappi{suffix}").write_text("")
    assert probe._fallback_fits(str(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    (other / "_yappi.cpython-39-x86_64-linux-gnu.so").write_text("")
    assert not probe._fallback_fits(str(other))


def test_stack_table_is_bounded_without_losing_samples() -> None:
    from concdiag.analysis.accounting.stack_bound import bound_stacks

    frames = [Frame(f"f{i}", "/m.py", i) for i in range(60)]
    stacks = [
        StackCount(
            PID, PID + (i % 3), ("io", "gil_held")[i % 2], [0, 1 + i % 7, 8 + i % 50], 1 + i % 5
        )
        for i in range(1000)
    ]
    totals = Counter[tuple[int, str]]()
    for s in stacks:
        totals[(s.tid, s.state)] += s.count
    new_frames, new_stacks, folded = bound_stacks(frames, stacks, max_stacks=100)
    assert len(new_stacks) <= 100 and folded == len(stacks) - len(new_stacks)
    after = Counter[tuple[int, str]]()
    for s in new_stacks:
        after[(s.tid, s.state)] += s.count
        assert all(0 <= i < len(new_frames) for i in s.frames)
    assert after == totals
    # stacks whose outermost frames all differ fold into one entry per thread and state
    wide = [StackCount(PID, PID, "io", [i], 1) for i in range(60)]
    new_frames, new_stacks, _ = bound_stacks(frames, wide, max_stacks=10)
    assert len(new_stacks) <= 10 and sum(s.count for s in new_stacks) == 60
    assert new_frames[-1].function == "(other stacks)"
    # under the bound nothing changes
    assert bound_stacks(frames, stacks[:50], max_stacks=100) == (frames, stacks[:50], 0)
