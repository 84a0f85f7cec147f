"""`check --confirm`: a model mismatch fails only when the measured alternative is faster past
``confirm_margin`` and the spread; the policy keys that set it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from concdiag.gate.evaluate import evaluate
from concdiag.gate.measure import confirmation, measure
from concdiag.gate.policy import ConfigError, Rules, parse_policy
from concdiag.gate.result import Confirmation
from concdiag.model.whatif import WhatIf
from gate_helpers import recorded_measurement, recorded_profile
from test_whatif import PROCESSES, alternatives, confirm, measured

CONFIRM = Rules(confirm=True)


def measurement(tmp_path: Path, written: float, alternative: float, margin: float = 0.05):  # type: ignore[no-untyped-def]
    m = recorded_measurement("cpu_threads", tmp_path)
    c = Confirmation("confirmed", "m", written, margin, PROCESSES, alternative, margin)
    return replace(m, confirmation=c)


def contradiction(findings: list) -> tuple[str, str]:  # type: ignore[type-arg]
    (f,) = [f for f in findings if f.rule == "model-contradiction"]
    return f.outcome, f.message


def test_a_measured_gain_past_margin_and_spread_fails(tmp_path: Path) -> None:
    outcome, message = contradiction(evaluate("t", measurement(tmp_path, 2.0, 1.1), CONFIRM, None))
    assert outcome == "failed"
    assert "faster by more than confirm_margin" in message


def test_a_gain_inside_margin_or_spread_only_warns(tmp_path: Path) -> None:
    # 2.0 -> 1.85 s: 7.5% faster, under the default 10% margin
    outcome, message = contradiction(evaluate("t", measurement(tmp_path, 2.0, 1.85), CONFIRM, None))
    assert outcome == "warning" and "Not failing" in message
    # 2.0 -> 1.6 s is 20% faster, but spreads of 0.3 s each swallow it
    noisy = measurement(tmp_path, 2.0, 1.6, margin=0.3)
    assert contradiction(evaluate("t", noisy, CONFIRM, None))[0] == "warning"
    # a larger margin in the policy turns a clear gain into a warning too
    strict = Rules(confirm=True, confirm_margin=1.0)
    assert (
        contradiction(evaluate("t", measurement(tmp_path, 2.0, 1.1), strict, None))[0] == "warning"
    )


def test_without_a_measurement_confirm_only_warns(tmp_path: Path) -> None:
    m = recorded_measurement("cpu_threads", tmp_path)
    assert m.confirmation is None
    outcome, message = contradiction(evaluate("t", m, CONFIRM, None))
    assert outcome == "warning" and "not confirmed by a measurement" in message
    # without --confirm the same verdict fails, as before
    assert contradiction(evaluate("t", m, Rules(), None))[0] == "failed"


def test_measure_reads_the_profiles_whatif_part(tmp_path: Path) -> None:
    profile = recorded_profile("cpu_threads", tmp_path)
    v = profile.verdict
    alts = alternatives(v, measured([2.0, 2.1, 1.9], **{PROCESSES: [1.1, 1.15, 1.05]}))
    outcome, winner, message = confirm(v, alts)
    part = WhatIf("measured", "", "", 3, [], alts, [], outcome, winner, message)
    c = confirmation([replace(profile, whatif=part)], "multiprocessing")
    assert c is not None
    assert (c.as_written_s, c.alternative, c.alternative_s) == (2.0, PROCESSES, 1.1)
    m = measure([replace(profile, whatif=part)], tmp_path)
    assert m.confirmation == c
    assert contradiction(evaluate("t", m, CONFIRM, None))[0] == "failed"


def test_policy_keys(tmp_path: Path) -> None:
    policy = parse_policy({"confirm": True, "confirm_margin": 0.2}, "p", tmp_path)
    assert policy.rules.confirm and policy.rules.confirm_margin == 0.2
    target = parse_policy(
        {"targets": [{"script": "a.py", "confirm": False}], "confirm": True}, "p", tmp_path
    ).targets[0]
    assert not target.rules.confirm
    with pytest.raises(ConfigError, match="confirm_margin"):
        parse_policy({"confirm_margin": -1}, "p", tmp_path)
    with pytest.raises(ConfigError, match="confirm must be true or false"):
        parse_policy({"confirm": "yes"}, "p", tmp_path)
