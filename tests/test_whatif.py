"""`concdiag whatif` on synthetic runs: the plan, medians and spreads, and the test of the verdict.

No process runs here: the timed runs are built by hand, so each rule is checked on the
direction of a difference against its spread, deterministically.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from concdiag.analysis.whatif.compare import (
    Runs,
    alternatives,
    confirm,
    failures,
    faster,
    sites,
    timing,
)
from concdiag.analysis.whatif.plan import plan, predicted
from concdiag.collectors.swap_report import read_swap_report
from concdiag.model import Profile, SpeedupPoint, Verdict
from concdiag.model.whatif import WhatIf
from concdiag.recording.whatif import PoolSeen, SwapReport, TaskErrorSeen, TimedRun
from concdiag.render.html import HtmlRenderer
from concdiag.render.markdown import MarkdownRenderer
from concdiag.render.text import SHORT_SUMMARY_LINES, summary_text
from conftest import load_recording
from helpers import load_schema, profile_of

INSTALLED = SwapReport(installed=True, interpreters=False, python="3.11.7")


def pool(kind: str = "thread_pool_executor", workers: int | None = 2, note: str = "") -> PoolSeen:
    return PoolSeen(
        kind, "/src/app.py", 12, "ThreadPoolExecutor(2)", workers, 6, None, None, note, True, 1
    )


def run(
    wall: float, cpu: float = 1.0, code: int = 0, out: str = "same", **report: object
) -> TimedRun:
    return TimedRun(wall, cpu, code, None, False, out, "", replace(INSTALLED, **report))  # type: ignore[arg-type]


def cpu_profile() -> Profile:
    """A recorded CPU-bound threaded run: recommends processes over the threads in use."""
    profile = profile_of(load_recording("cpu_threads"))
    assert profile.verdict.recommendation == "multiprocessing"
    return profile


def verdict(recommendation: str, threads: float = 1.0, processes: float = 1.8) -> Verdict:
    points = [SpeedupPoint(1, 1.0, 1.0), SpeedupPoint(2, threads, processes)]
    return replace(cpu_profile().verdict, recommendation=recommendation, predicted_speedup=points)


def measured(written: list[float], **others: list[float]) -> list[Runs]:
    """Thread pool of 2 as written, and alternatives by label with their wall times."""
    variants = {v.label: v for v in plan([pool()], cores=2, interpreters=False, sweep=True)}
    out = [Runs(next(v for v in variants.values() if v.as_written), [run(w) for w in written])]
    for label, walls in others.items():
        out.append(Runs(variants[label], [run(w) for w in walls]))
    return out


PROCESSES = "processes, 2 workers (as asked)"
SERIAL = "serial: tasks run inline (the baseline)"


def test_plan_swaps_the_kind_and_sweeps_the_workers() -> None:
    variants = plan([pool(workers=4)], cores=2, interpreters=False, sweep=True)
    assert [(v.kind, v.workers, v.model) for v in variants] == [
        ("as_written", None, "threading"),
        ("serial", None, "serial"),
        ("as_written", 2, "threading"),
        ("processes", None, "multiprocessing"),
        ("processes", 2, "multiprocessing"),
    ]
    assert variants[0].as_written and variants[0].effective_workers == 4
    asked = plan([pool(workers=4)], cores=2, interpreters=False, sweep=False)
    assert [(v.kind, v.workers) for v in asked] == [("as_written", None), ("processes", None)]


def test_plan_adds_interpreters_only_where_the_interpreter_has_them() -> None:
    kinds = [v.kind for v in plan([pool()], cores=2, interpreters=True, sweep=False)]
    assert kinds == ["as_written", "processes", "interpreters"]
    mp_pool = pool(kind="process_pool")
    kinds = [v.kind for v in plan([mp_pool], cores=2, interpreters=True, sweep=False)]
    assert kinds == ["as_written", "threads"]  # multiprocessing pools have no interpreter kind


def test_nothing_to_swap_without_a_swappable_pool() -> None:
    stdlib = pool(note="created by the standard library (base_events.py); kept as written")
    assert plan([stdlib], cores=2, interpreters=False, sweep=True) == []
    assert plan([], cores=2, interpreters=False, sweep=True) == []


def test_a_default_sized_pool_counts_its_default_workers() -> None:
    variants = plan([pool(workers=None)], cores=2, interpreters=False, sweep=False)
    assert variants[0].effective_workers == 6  # ThreadPoolExecutor's min(32, cores + 4)


def test_predicted_reads_the_verdicts_curve() -> None:
    points = [SpeedupPoint(n, 1.0 + 0.1 * n, 1.0 + 0.5 * n) for n in range(1, 9)]
    assert predicted(points, "threads", 1) == 1.0
    assert predicted(points, "processes", 2) == pytest.approx(2.0)
    assert predicted(points, "processes", 32) == pytest.approx(5.0)  # past the curve: its end
    assert predicted(points, "interpreters", 2) is None


def test_spread_is_half_the_range_and_a_difference_must_pass_it() -> None:
    t = timing([1.0, 1.2, 1.1])
    assert (t.median_s, t.margin_s) == (1.1, pytest.approx(0.1))
    assert faster(timing([0.5, 0.52, 0.51]), timing([1.0, 1.02, 1.01]))
    assert not faster(timing([0.5, 0.9, 0.7]), timing([0.8, 1.2, 1.0]))  # spreads overlap
    # past both spreads but under the 10% tie: not a difference anyone acts on
    assert not faster(timing([0.95, 0.95, 0.95]), timing([1.0, 1.0, 1.0]))


def test_processes_measured_faster_confirm_a_move_to_processes() -> None:
    v = verdict("multiprocessing")
    alts = alternatives(v, measured([2.0, 2.1, 1.9], **{PROCESSES: [1.1, 1.15, 1.05]}))
    by_label = {a.label: a for a in alts}
    proc = by_label[PROCESSES]
    assert proc.speedup is not None and proc.speedup > 1.5
    assert proc.speedup_low is not None and proc.speedup_low > 1.0
    assert proc.predicted_speedup == pytest.approx(1.8)
    assert proc.prediction == "agrees"
    outcome, winner, message = confirm(v, alts)
    assert outcome == "confirmed" and winner is None
    assert "faster than as written" in message


def test_a_promised_gain_inside_the_spread_is_inconclusive() -> None:
    v = verdict("multiprocessing")
    alts = alternatives(v, measured([2.0, 2.6, 1.5], **{PROCESSES: [1.9, 2.4, 1.6]}))
    outcome, winner, message = confirm(v, alts)
    assert (outcome, winner) == ("inconclusive", None)
    assert "no gain past the spread" in message


def test_when_another_model_runs_faster_the_measurement_wins() -> None:
    v = verdict("multiprocessing")
    alts = alternatives(v, measured([2.0, 2.05, 1.95], **{PROCESSES: [3.0, 3.1, 2.9]}))
    outcome, winner, message = confirm(v, alts)
    assert outcome == "refuted"
    assert winner == "threading"
    assert message.startswith("The measurement wins")


def test_a_cheaper_model_as_fast_confirms_the_move_to_it() -> None:
    # threads as written; the verdict says stay serial: one worker is as fast, for less
    v = verdict("serial")
    alts = alternatives(v, measured([1.0, 1.02, 0.98], **{SERIAL: [1.01, 1.03, 0.99]}))
    assert confirm(v, alts)[0] == "confirmed"


def test_output_that_differs_is_not_compared() -> None:
    v = verdict("multiprocessing")
    runs = measured([2.0, 2.0, 2.0])
    variant = plan([pool()], cores=2, interpreters=False, sweep=False)[1]
    runs.append(Runs(variant, [run(1.0, out="other"), run(1.0, out="other")]))
    alts = alternatives(v, runs)
    proc = alts[-1]
    assert proc.status == "output_differs"
    assert "shared object" in proc.note
    assert confirm(v, alts)[0] == "not_measured"


def test_a_failed_alternative_is_a_finding_with_its_submitting_line() -> None:
    v = verdict("multiprocessing")
    error = TaskErrorSeen(
        "AttributeError: Can't pickle local object 'main.<locals>.<lambda>'",
        "main.<locals>.<lambda>",
        "/src/app.py",
        17,
        "pool.submit(f, 3)",
        1,
    )
    runs = measured([2.0, 2.0, 2.0])
    variant = plan([pool()], cores=2, interpreters=False, sweep=False)[1]
    runs.append(Runs(variant, [run(0.5, code=1, task_errors=[error])]))
    alts = alternatives(v, runs)
    assert alts[-1].status == "failed" and alts[-1].wall is None
    found = failures(INSTALLED, runs)
    assert [(f.line, f.task) for f in found] == [(17, "main.<locals>.<lambda>")]
    assert "pickle" in found[0].error
    # an error the program already had as written is not the alternative's finding
    assert failures(replace(INSTALLED, task_errors=[error]), runs) == []
    outcome, _, message = confirm(v, alts)
    assert outcome == "not_measured" and "could not be measured" in message


def test_sites_name_what_cannot_be_swapped() -> None:
    from concdiag.recording.whatif import StartSeen

    report = replace(
        INSTALLED,
        pools=[pool(note="a subclass (MyPool) keeps its kind")],
        starts=[StartSeen("thread", "/src/app.py", 30, "t.start()", "", 4)],
    )
    found = sites(report, cpu_profile())
    assert [(s.what, s.swappable, s.count) for s in found] == [
        ("thread_pool_executor", False, 1),
        ("thread", False, 4),
    ]
    assert "cannot be swapped" in found[1].note


def test_read_swap_report_counts_repeats_and_skips_junk(tmp_path: Path) -> None:
    path = tmp_path / "swap.jsonl"
    lines = [
        {"type": "installed", "interpreters": False, "python": "3.11.7"},
        {
            "type": "pool",
            "kind": "process_pool",
            "file": "/a.py",
            "line": 3,
            "code": "Pool(2)",
            "workers": 2,
            "default_workers": 2,
            "became": "threads",
            "workers_used": 2,
            "note": "",
            "key": "pool:a",
        },
        {"type": "stdin", "key": "stdin"},
        {"type": "counts", "counts": {"pool:a": 5}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n[1]\n")
    report = read_swap_report(path)
    assert report.installed and report.read_stdin
    assert [(p.family, p.count, p.became) for p in report.pools] == [("processes", 5, "threads")]
    assert not read_swap_report(tmp_path / "absent.jsonl").installed


def _with_whatif(hostile: str = "") -> Profile:
    profile = cpu_profile()
    v = profile.verdict
    runs = measured([2.0, 2.1, 1.9], **{PROCESSES: [1.1, 1.15, 1.05]})
    error = TaskErrorSeen(f"PicklingError: {hostile}", hostile, "/src/a.py", 9, hostile, 2)
    variant = plan([pool()], cores=2, interpreters=False, sweep=True)[1]
    runs.append(
        Runs(replace(variant, label=f"threads {hostile}"), [run(1, code=1, task_errors=[error])])
    )
    alts = alternatives(v, runs)
    outcome, winner, message = confirm(v, alts)
    part = WhatIf(
        "measured",
        "",
        "method",
        3,
        sites(INSTALLED, profile),
        alts,
        failures(INSTALLED, runs),
        outcome,
        winner,
        message,
        2,
        [3.5, 4.0],
    )
    return Profile.from_dict(json.loads(replace(profile, whatif=part).to_json()))


def test_the_part_is_in_the_schema_and_every_renderer() -> None:
    profile = _with_whatif()
    jsonschema.validate(profile.to_dict(), load_schema())
    html = HtmlRenderer().render(profile)
    assert 'id="whatif"' in html and 'data-testid="whatif-badge"' in html
    assert "measurement confirms the verdict" in html
    assert "load average 3.50 and 4.00" in html
    md = MarkdownRenderer().render(profile)
    assert "**Measured alternatives**" in md and "processes, 2 workers" in md
    text = summary_text(profile, [], verbose=True)
    assert "whatif (measurement confirms the verdict)" in text
    assert "could not run under threads" in text
    short = summary_text(profile, []).splitlines()
    assert len(short) <= SHORT_SUMMARY_LINES
    measured = next(line for line in short if line.startswith("  measured: "))
    assert "processes, 2 workers" in measured
    assert "more note" in short[-1]  # the failure to run under threads is one of them


def test_profiles_without_the_part_render_without_it() -> None:
    profile = cpu_profile()
    assert profile.whatif is None
    assert 'id="whatif"' not in HtmlRenderer().render(profile)
    assert "Measured alternatives" not in MarkdownRenderer().render(profile)


def test_hostile_strings_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    profile = _with_whatif(hostile)
    html = HtmlRenderer().render(profile)
    assert hostile not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = MarkdownRenderer().render(profile)
    assert hostile not in md
