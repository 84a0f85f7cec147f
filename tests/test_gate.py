"""Each policy rule passing and failing, on recorded runs of the sample targets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from concdiag.gate.evaluate import evaluate, exit_code, target_status
from concdiag.gate.measure import measure, spread
from concdiag.gate.policy import Rules
from concdiag.gate.result import Finding, Measurement, Site, TargetResult
from gate_helpers import line_of, recorded_measurement, recorded_profile

SCRIPT = "sample_targets/{}.py"


def outcomes(findings: list[Finding]) -> dict[str, str]:
    return {f.rule: f.outcome for f in findings}


def check(name: str, project: Path, rules: Rules | None = None) -> list[Finding]:
    m = recorded_measurement(name, project)
    return evaluate(name, m, rules or Rules(), SCRIPT.format(name))


def test_default_fails_threads_carrying_gil_held_cpu_work(tmp_path: Path) -> None:
    findings = check("cpu_threads", tmp_path)
    assert outcomes(findings) == {"model-contradiction": "failed"}
    (finding,) = findings
    assert "GIL" in finding.message
    # the annotation goes on the line that creates the threads
    line = line_of(tmp_path / "sample_targets/cpu_threads.py", "threading.Thread(")
    assert [(s.file, s.line, s.kind) for s in finding.sites] == [
        ("sample_targets/cpu_threads.py", line, "thread")
    ]
    assert target_status(findings) == "failed"


@pytest.mark.parametrize("name", ["native_threads", "io_threads"])
def test_default_passes_threads_that_fit(tmp_path: Path, name: str) -> None:
    findings = check(name, tmp_path)
    assert outcomes(findings) == {"model-contradiction": "passed"}
    assert target_status(findings) == "passed"


def test_serial_passes_by_default_with_the_recommendation_as_advice(tmp_path: Path) -> None:
    findings = check("cpu_serial", tmp_path)
    assert outcomes(findings) == {"model-contradiction": "passed", "advice": "advice"}
    advice = next(f for f in findings if f.rule == "advice")
    assert "multiprocessing" in advice.message
    assert "ProcessPoolExecutor" in advice.message
    assert target_status(findings) == "passed"


def test_fail_on_any_mismatch_fails_a_serial_script(tmp_path: Path) -> None:
    findings = check("cpu_serial", tmp_path, Rules(fail_on_mismatch="any"))
    assert outcomes(findings) == {"model-mismatch": "failed"}
    # no thread or pool to point at: the script itself
    assert [(s.file, s.line) for s in findings[0].sites] == [("sample_targets/cpu_serial.py", 1)]


def test_fail_on_mismatch_never(tmp_path: Path) -> None:
    findings = check("cpu_threads", tmp_path, Rules(fail_on_mismatch="never"))
    assert "model-contradiction" not in outcomes(findings)
    assert outcomes(findings)["advice"] == "advice"
    assert target_status(findings) == "passed"


def test_min_confidence_turns_a_failure_into_a_warning(tmp_path: Path) -> None:
    m = recorded_measurement("cpu_threads", tmp_path)
    assert 0.6 <= m.confidence < 1.0
    findings = evaluate("t", m, Rules(min_confidence=1.0), "t.py")
    assert outcomes(findings) == {"model-contradiction": "warning"}
    assert "below min_confidence 1.00" in findings[0].message
    assert target_status(findings) == "passed"


def test_processes_where_threads_serve_better_is_a_contradiction(tmp_path: Path) -> None:
    io = recorded_measurement("io_threads", tmp_path)
    pool = Site("app.py", 12, "process_pool", "with Pool(8) as pool:")
    m = replace(
        io,
        current_model="multiprocessing",
        matches=False,
        sites=[Site("app.py", 3, "thread", ""), pool],
    )
    findings = evaluate("io", m, Rules(), "app.py")
    assert outcomes(findings) == {"model-contradiction": "failed"}
    assert findings[0].sites == [pool]


@pytest.mark.parametrize(
    ("expect", "outcome"), [("multiprocessing", "passed"), ("threading", "failed")]
)
def test_expected_recommendation(tmp_path: Path, expect: str, outcome: str) -> None:
    findings = check("cpu_threads", tmp_path, Rules(fail_on_mismatch="never", expect=expect))
    assert outcomes(findings)["expected-recommendation"] == outcome


def test_expected_recommendation_respects_min_confidence(tmp_path: Path) -> None:
    rules = Rules(fail_on_mismatch="never", expect="serial", min_confidence=1.0)
    assert outcomes(check("io_threads", tmp_path, rules))["expected-recommendation"] == "warning"


def test_max_gil_wait_share(tmp_path: Path) -> None:
    m = recorded_measurement("cpu_threads", tmp_path)
    wait = m.figures["gil_wait_share"]
    assert wait.median == pytest.approx(0.71, abs=0.05)
    assert 0 < wait.margin < 0.1  # sampling error of one run
    never = Rules(fail_on_mismatch="never")

    def outcome(limit: float) -> str:
        rules = replace(never, max_gil_wait_share=limit)
        return outcomes(evaluate("t", m, rules, "t.py"))["gil-wait-share"]

    assert outcome(0.3) == "failed"
    assert outcome(0.9) == "passed"
    # above the limit, but by less than the noise margin: warn, do not fail
    assert outcome(wait.median - wait.margin / 2) == "warning"
    findings = evaluate("t", m, replace(never, max_gil_wait_share=0.3), "t.py")
    failing = next(f for f in findings if f.rule == "gil-wait-share")
    assert failing.figures["max_gil_wait_share"] == 0.3
    assert "±" in failing.message
    assert failing.sites and failing.sites[0].kind == "thread"


def test_repeated_runs_take_medians_and_state_the_spread(tmp_path: Path) -> None:
    base = recorded_profile("cpu_threads", tmp_path)
    runs = [replace(base, summary=replace(base.summary, wall_s=wall)) for wall in (1.0, 1.4, 1.2)]
    m = measure(runs, tmp_path)
    wall = m.figures["wall_s"]
    assert (wall.median, wall.low, wall.high, wall.runs) == (1.2, 1.0, 1.4, 3)
    assert wall.margin == pytest.approx(0.2)  # half the range


def test_disagreeing_runs_lower_the_confidence(tmp_path: Path) -> None:
    base = recorded_profile("cpu_threads", tmp_path)
    flipped = replace(base, verdict=replace(base.verdict, recommendation="threading"))
    m = measure([base, flipped, base], tmp_path)
    assert m.recommendation == "multiprocessing"
    assert (m.agreement, m.runs) == (2, 3)
    assert m.confidence == pytest.approx(base.verdict.confidence * 2 / 3, abs=0.001)


def test_spread_margin_is_at_least_the_sampling_error() -> None:
    assert spread([0.5], 0.03).margin == 0.03
    assert spread([0.4, 0.6], 0.03).margin == pytest.approx(0.1)


def _target(status: str) -> TargetResult:
    return TargetResult("t", [], None, [], [], status, None, [])


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        (["passed"], 0),
        (["passed", "failed"], 1),
        (["failed", "target_failed"], 4),
        (["target_failed", "not_profiled", "failed"], 3),
    ],
)
def test_exit_code_precedence(statuses: list[str], code: int) -> None:
    assert exit_code([_target(s) for s in statuses]) == code


def test_exit_zero_only_forgives_the_policy() -> None:
    assert exit_code([_target("failed")], exit_zero=True) == 0
    assert exit_code([_target("target_failed")], exit_zero=True) == 4


def test_measurement_round_trips_through_json(tmp_path: Path) -> None:
    from concdiag.gate.result import GateResult

    m: Measurement = recorded_measurement("cpu_threads", tmp_path)
    result = GateResult(
        "check",
        False,
        1,
        "defaults",
        "margins",
        [
            TargetResult(
                "t", ["python", "t.py"], "t.py", [], [], "failed", m, check("cpu_threads", tmp_path)
            )
        ],
    )
    import json

    assert GateResult.from_dict(json.loads(result.to_json())).to_json() == result.to_json()
