"""The HTML report: its sections, self-containment, escaping, size, and re-rendering."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from concdiag.model import STATE_KEYS, Frame, Lane, Profile, StackCount, Timeline
from concdiag.render.html import (
    MAX_FLAME_STACKS,
    SHOWN_COMMAND_CHARS,
    HtmlRenderer,
    flame_data,
    summarised_command,
)
from concdiag.render.markdown import MarkdownRenderer
from helpers import PID, profile_of, synthetic
from test_exports import busy_profile
from test_render import HOSTILE, hostile_profile


class _Collect(HTMLParser):
    """Every id, every in-page link and every attribute that could load something."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name == "href" and value:
                self.links.append(value)
            if name in ("src", "srcset", "poster", "data", "action", "formaction"):
                self.loads.append((tag, name, value or ""))


def parse(html: str) -> _Collect:
    collector = _Collect()
    collector.feed(html)
    return collector


def test_report_has_every_section_and_the_verdict_first() -> None:
    profile = busy_profile()
    html = HtmlRenderer().render(profile)
    doc = parse(html)
    for section in (
        "verdict",
        "why",
        "threads",
        "timeline",
        "hot",
        "flame-section",
        "speedup",
        "processes",
        "run",
        "glossary",
    ):
        assert section in doc.ids, section
    body = html[html.index("<body>") :]
    assert body.index('id="verdict"') < body.index('id="threads"')
    v = profile.verdict
    assert f'data-testid="recommendation">{v.recommendation}<' in html
    assert f"({v.confidence:.2f})" in html
    assert v.summary in html


def test_every_in_page_link_has_a_target_and_states_link_to_the_glossary() -> None:
    doc = parse(HtmlRenderer().render(busy_profile()))
    anchors = [link[1:] for link in doc.links if link.startswith("#")]
    assert anchors and all(a in doc.ids for a in anchors), set(anchors) - doc.ids
    for term in (
        "g-gil_held",
        "g-gil_wait",
        "g-native",
        "g-io",
        "g-sync",
        "g-unknown",
        "g-gil_utilisation",
        "g-bound",
        "g-confidence",
        "g-role",
    ):
        assert f"#{term}" in doc.links, term
    assert all(link.startswith("#") for link in doc.links), "the report links nowhere else"


def test_report_loads_nothing_from_anywhere() -> None:
    html = HtmlRenderer().render(hostile_profile())
    doc = parse(html)
    assert doc.loads == []
    assert "link" not in doc.tags and "iframe" not in doc.tags and "img" not in doc.tags
    assert "url(" not in html and "@import" not in html
    assert not re.search(r"https?://", html)
    assert "default-src 'none'" in html


def test_hostile_names_stay_text_in_markup_and_in_script_data() -> None:
    html = HtmlRenderer().render(hostile_profile())
    assert HOSTILE not in html
    assert "</style>&amp;" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    data = html[html.index('id="concdiag-data"') :]
    data = data[data.index(">") + 1 : data.index("</script>")]
    assert "<" not in data and ">" not in data
    assert any(frame[0] == HOSTILE for frame in json.loads(data)["flame"]["frames"])
    assert len(re.findall(r"<script\b", html)) == 2


def test_the_command_is_masked_again_when_rendered() -> None:
    profile = busy_profile()
    run = dataclasses.replace(profile.run, command=["python", "app.py", "--token=s3cr3tvalue"])
    html = HtmlRenderer().render(dataclasses.replace(profile, run=run))
    assert "s3cr3tvalue" not in html
    assert "--token=********" in html


def test_threads_are_grouped_by_process() -> None:
    profile = busy_profile()
    root = profile.processes[0]
    child = dataclasses.replace(
        root, pid=PID + 50, ppid=root.pid, is_root=False, command=["python", "-c", "child"]
    )
    html = HtmlRenderer().render(dataclasses.replace(profile, processes=[root, child]))
    assert html.count('<tr class="group">') == 2
    assert f'<tbody data-pid="{PID + 50}">' in html
    assert f"(parent {root.pid})" in html


def test_flame_data_keeps_totals_when_stacks_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = busy_profile()
    full = flame_data(profile)
    monkeypatch.setattr("concdiag.render.html.MAX_FLAME_STACKS", 1)
    capped = flame_data(profile)
    assert MAX_FLAME_STACKS > 1
    assert sum(s[2] for s in capped["stacks"]) == sum(s[2] for s in full["stacks"])
    assert any(f[0] == "(other stacks)" for f in capped["frames"])
    assert sum(s[2] for s in full["stacks"]) == sum(s.count for s in profile.stacks)


def test_rerendering_a_saved_profile_gives_the_same_bytes(tmp_path: Path) -> None:
    profile = busy_profile()
    saved = Profile.from_dict(json.loads(profile.to_json()))
    first = HtmlRenderer().render(saved)
    again = HtmlRenderer().render(Profile.from_dict(json.loads(saved.to_json())))
    assert first == again


def test_a_normal_report_is_small() -> None:
    size = len(HtmlRenderer().render(busy_profile()).encode())
    assert size < 300_000, size


def long_busy_profile(threads: int = 50, seconds: float = 60.0, rate_hz: float = 100.0) -> Profile:
    """A 60 s, 50-thread profile built directly (the analysis of such a run takes seconds):
    every lane changes state every bin, and 12,000 distinct stacks, a worst case for size.
    bench/render_size.py measures the same through the real analysis."""
    rng = random.Random(7)
    base = busy_profile()
    template = base.processes[0].threads[0]
    nbins = 240
    tids = [PID + i for i in range(threads)]
    thread_profiles = [
        dataclasses.replace(template, tid=tid, name=f"worker-{tid}", is_main=tid == PID)
        for tid in tids
    ]
    lanes = []
    for tid in tids:
        shares = {k: [0.0] * nbins for k in STATE_KEYS}
        for i in range(nbins):
            shares[rng.choice(STATE_KEYS)][i] = rng.uniform(0.3, 1.0)
        lanes.append(Lane(pid=PID, tid=tid, name=f"worker-{tid}", shares=shares))
    timeline = Timeline(
        bin_s=seconds / nbins,
        t_s=[i * seconds / nbins for i in range(nbins)],
        cores_used=[rng.uniform(0, 8) for _ in range(nbins)],
        gil_utilisation=[rng.uniform(0, 1) for _ in range(nbins)],
        lanes=lanes,
    )
    frames = [Frame(f"func_{i}", f"/srv/app/pkg{i % 12}/module.py", i) for i in range(160)]
    stacks = [
        StackCount(
            PID,
            rng.choice(tids),
            rng.choice(STATE_KEYS),
            rng.sample(range(160), rng.randint(3, 20)),
            rng.randint(1, 40),
        )
        for _ in range(12_000)
    ]
    run = dataclasses.replace(base.run, duration_s=seconds, rate_hz=rate_hz)
    process = dataclasses.replace(base.processes[0], threads=thread_profiles)
    return dataclasses.replace(
        base, run=run, processes=[process], timeline=timeline, frames=frames, stacks=stacks
    )


def test_a_long_busy_run_stays_under_two_megabytes() -> None:
    """The issue's bound: a 60-second profile with 50 threads renders under 2 MB."""
    html = HtmlRenderer().render(long_busy_profile())
    assert len(html.encode()) < 2_000_000
    assert html.count('<svg class="lane"') == 50
    assert html.count("worker-") >= 50


def test_markdown_is_link_free_and_has_the_thread_table() -> None:
    md = MarkdownRenderer().render(busy_profile())
    assert "](" not in md and "http" not in md and "<" not in md
    assert "| thread |" in md
    assert md.count("| worker\\-") == 2


def test_partial_runs_and_failed_targets_are_flagged() -> None:
    profile = profile_of(synthetic({PID: ["H", "I"]}))
    run = dataclasses.replace(
        profile.run,
        partial=True,
        partial_reasons=["py-spy stopped early"],
        exit=dataclasses.replace(
            profile.run.exit, status="failed", description="exited with status 1"
        ),
    )
    html = HtmlRenderer().render(dataclasses.replace(profile, run=run))
    assert "Partial profile." in html and "py-spy stopped early" in html
    assert "The target exited with status 1." in html


def test_a_long_command_line_is_summarised_and_whole_on_hover() -> None:
    code = "from multiprocessing.forkserver import main; main(11, 12, ['__main__'], **{'sys_path': "
    argv = ["/usr/bin/python3", "-B", "-c", code + repr(["/a/very/long/path"] * 20) + "})"]
    short = summarised_command(argv)
    assert len(short) <= SHOWN_COMMAND_CHARS + 2
    assert short.startswith("/usr/bin/python3 -B -c from multiprocessing.forkserver import main")
    assert short.endswith("…")
    assert summarised_command(["python3", "app.py", "--fast"]) == "python3 app.py --fast"
    many = ["python3", "tool.py", *(f"file{i}.py" for i in range(40))]
    assert summarised_command(many).endswith(" …")


def test_the_flame_graph_shows_each_run_of_import_frames_as_one_bar() -> None:
    p = busy_profile()
    boot = "<frozen importlib._bootstrap>"
    chain = [
        Frame("<module>", "/app/main.py", 1),
        Frame("_find_and_load", boot, 1),
        Frame("_load_unlocked", boot, 2),
        Frame("exec_module", "<frozen importlib._bootstrap_external>", 3),
        Frame("<module>", "/app/lib.py", 1),
        Frame("_find_and_load", boot, 1),
        Frame("<module>", "/app/deep.py", 4),
    ]
    frames = list(p.frames) + chain
    first = len(p.frames)
    stack = StackCount(PID, PID, "gil_held", list(range(first, first + len(chain))), 5)
    profile = dataclasses.replace(p, frames=frames, stacks=[*p.stacks, stack])
    data = flame_data(profile)
    row = next(r for r in data["stacks"] if r[2] == 5)
    names = [data["frames"][i][0] for i in row[3]]
    assert names == ["<module>", "(import system)", "<module>", "(import system)", "<module>"]


def test_the_speedup_section_says_it_in_a_sentence_and_keeps_the_formula_folded() -> None:
    profile = busy_profile()
    html = HtmlRenderer().render(profile)
    cores = profile.run.cpu_count
    at = [pt for pt in profile.verdict.predicted_speedup if pt.workers <= cores][-1]
    sentence = re.search(r'data-testid="speedup-sentence"[^>]*>([^<]*)<', html)
    assert sentence is not None
    assert f"{at.threads:.2f}× and processes {at.processes:.2f}×" in sentence.group(1)
    assert "<summary>How this is predicted</summary>" in html
