"""Renderers: content, determinism, and escaping of hostile names."""

from __future__ import annotations

import dataclasses
import re

from concdiag.model import Profile
from concdiag.render.html import HtmlRenderer
from concdiag.render.markdown import MarkdownRenderer
from concdiag.render.text import summary_text
from helpers import PID, as_child_process, profile_of, synthetic

HOSTILE = "<script>alert(1)</script>\"'</style>&amp;"


def hostile_profile() -> Profile:
    stack = ((HOSTILE, f"/tmp/{HOSTILE}.py", 3),)
    rec = synthetic(
        {PID: ["H", "W"], PID + 1: ["W", "H"]},
        names={PID + 1: HOSTILE},
        stacks={PID: stack, PID + 1: stack},
    )
    profile = profile_of(rec, target=f"{HOSTILE}.py")
    run = dataclasses.replace(profile.run, command=["python", f"{HOSTILE}.py", HOSTILE])
    return dataclasses.replace(profile, run=run)


def test_html_escapes_hostile_names() -> None:
    html = HtmlRenderer().render(hostile_profile())
    assert "<script>alert(1)</script>" not in html
    assert "</style>&amp;" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # only our own two script elements
    assert len(re.findall(r"<script\b", html)) == 2


def test_html_shows_verdict_reasons_and_threads() -> None:
    profile = profile_of(synthetic({PID: ["H", "W"], PID + 1: ["W", "H"]}))
    html = HtmlRenderer().render(profile)
    assert f'data-testid="recommendation">{profile.verdict.recommendation}<' in html
    for reason in profile.verdict.reasons:
        assert reason.rule in html
    assert "worker-1001" in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html


def test_rendering_is_deterministic() -> None:
    profile = profile_of(synthetic({PID: ["H", "W"], PID + 1: ["W", "H"]}))
    assert HtmlRenderer().render(profile) == HtmlRenderer().render(profile)


def test_markdown_escapes_and_summarises() -> None:
    md = MarkdownRenderer().render(hostile_profile())
    assert "<script>" not in md
    assert "recommend **" in md
    assert "| thread |" in md


def test_terminal_summary_names_the_paths() -> None:
    from pathlib import Path

    profile = profile_of(synthetic({PID: ["H"]}))
    text = summary_text(profile, [Path("r/a.json"), Path("r/a.html")])
    assert "recommend multiprocessing" in text
    assert "wrote r/a.json" in text


def test_a_process_trees_banner_gives_the_trees_figures_and_each_processs_gil() -> None:
    # a parent waiting on two busy worker processes: the parent's GIL is idle, theirs is not
    futures = "/usr/lib/python3.11/concurrent/futures"
    waits = (("main", "/app/main.py", 9), ("Future.result", f"{futures}/_base.py", 451))
    pool = (("_process_worker", f"{futures}/process.py", 261),)
    rec = synthetic(
        {PID: ["L"], PID + 1: ["H"], PID + 2: ["H", "H", "H", "I"]},
        ticks=400,
        stacks={PID: waits, PID + 1: pool, PID + 2: pool},
    )
    as_child_process(rec, PID + 1)
    as_child_process(rec, PID + 2)
    profile = profile_of(rec)
    text = summary_text(profile, [])
    assert "GIL utilisation: parent 0%, workers 100% / 75%" in text
    assert "Python CPU (GIL held): 100%" in text
    assert "of 2 across 3 processes" in text
    assert "parent 0%, workers 100% / 75%" in MarkdownRenderer().render(profile)
    html = HtmlRenderer().render(profile)
    assert "parent 0%, workers 100% / 75%" in html
    assert "the 3 processes' samples pooled" in html
