"""GIL blame: each thread's GIL wait charged to the holder at that tick, and to its line."""

from __future__ import annotations

import json

import jsonschema
import pytest

from concdiag.model import Profile
from concdiag.render.html import HtmlRenderer
from helpers import PID, load_schema, profile_of, synthetic

HOG = (("<module>", "/app/main.py", 1), ("hog", "/app/main.py", 10))
SHORT = (("<module>", "/app/main.py", 1), ("nibble", "/app/main.py", 20))
LIB = (
    ("<module>", "/app/main.py", 1),
    ("crunch", "/app/main.py", 30),
    ("dumps", "/usr/lib/python3.11/json/__init__.py", 231),
)


def hog_profile() -> Profile:
    """Thread 1 holds the GIL 3 ticks in 4; threads 2 and 3 wait meanwhile, then nibble."""
    rec = synthetic(
        {
            PID: ["S"],
            PID + 1: ["H", "H", "H", "S"],
            PID + 2: ["W", "W", "W", "H"],
            PID + 3: ["W", "S", "W", "S"],
        },
        ticks=400,
        names={PID + 1: "hog", PID + 2: "nibbler-a", PID + 3: "nibbler-b"},
        stacks={PID + 1: HOG, PID + 2: SHORT, PID + 3: SHORT},
    )
    return profile_of(rec)


def test_waits_are_charged_to_the_holder_and_its_line() -> None:
    blame = hog_profile().gil_blame
    assert blame is not None
    tick = 0.01
    # nibbler-a waits 3 ticks in 4 and nibbler-b 2 in 4, all while the hog holds the GIL
    assert blame.waited_s == pytest.approx(400 * 5 / 4 * tick, rel=0.05)
    assert blame.attributed_s == pytest.approx(blame.waited_s)
    top = blame.top_line()
    assert top is not None and (top.function, top.line) == ("hog", 10)
    assert top.wait_s == pytest.approx(blame.waited_s) and top.waiters == 2 and top.holders == 1
    assert [(p.waiter, p.holder) for p in blame.pairs] == [
        ("nibbler-a", "hog"),
        ("nibbler-b", "hog"),
    ]
    assert blame.pairs[0].wait_s == pytest.approx(400 * 3 / 4 * tick, rel=0.05)
    assert blame.pairs[0].lines[0].function == "hog"


def test_a_holder_in_the_standard_library_is_named_by_the_program_line_that_called_it() -> None:
    rec = synthetic({PID: ["H"], PID + 1: ["W"]}, ticks=100, stacks={PID: LIB, PID + 1: SHORT})
    blame = profile_of(rec).gil_blame
    assert blame is not None
    top = blame.top_line()
    assert top is not None and (top.function, top.file, top.line) == ("crunch", "/app/main.py", 30)


def test_a_holder_without_a_python_stack_is_native_code_and_an_unknown_holder_is_not_charged() -> (
    None
):
    rec = synthetic({PID: ["H"], PID + 1: ["W"]}, ticks=100, stacks={PID + 1: SHORT})
    blame = profile_of(rec).gil_blame
    assert blame is not None and blame.lines[0].function is None  # native code holding it
    unknown = synthetic({PID: ["N"], PID + 1: ["W"]}, ticks=100)
    nobody = profile_of(unknown).gil_blame
    assert nobody is not None and nobody.attributed_s == 0 and nobody.pairs == []
    assert nobody.waited_s > 0


def test_no_wait_no_blame_and_the_part_round_trips_through_the_schema() -> None:
    assert profile_of(synthetic({PID: ["H"], PID + 1: ["S"]}, ticks=50)).gil_blame is None
    profile = hog_profile()
    data = json.loads(profile.to_json())
    jsonschema.validate(data, load_schema())
    assert Profile.from_dict(data).gil_blame == profile.gil_blame


def test_the_verdict_names_the_line_that_held_the_gil() -> None:
    v = hog_profile().verdict
    reason = next(r for r in v.reasons if r.rule == "gil_contention")
    assert "2 threads waited" in reason.message
    assert "`hog` (main.py:10) held it" in reason.message
    assert reason.figures["holder_function"] == "hog" and reason.figures["holder_line"] == 10


def test_the_report_shows_who_held_the_gil_with_names_as_text() -> None:
    hostile = "<script>alert(1)</script>"
    rec = synthetic(
        {PID: ["S"], PID + 1: ["H", "H", "H", "S"], PID + 2: ["W", "W", "W", "H"]},
        ticks=200,
        names={PID + 1: hostile, PID + 2: "waiter"},
        stacks={PID + 1: HOG, PID + 2: SHORT},
    )
    html = HtmlRenderer().render(profile_of(rec))
    section = html.split('data-testid="gil-blame"', 1)[1].split("</section>", 1)[0]
    assert hostile not in section and "held by &lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "<td>waiter (tid" in section and ">main.py:10<" in section
    assert 'href="#gil-blame"' in html


def test_a_run_without_gil_waits_has_no_such_section() -> None:
    html = HtmlRenderer().render(profile_of(synthetic({PID: ["H"], PID + 1: ["S"]}, ticks=50)))
    assert 'data-testid="gil-blame"' not in html
