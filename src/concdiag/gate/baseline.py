"""Comparing with a baseline: read a saved side, pair its targets with HEAD's, compare each.

A side is a saved profile or a saved `GateResult`; targets pair by name, and a single
measured target on each side pairs as is. The comparison itself is `concdiag.gate.diff`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from concdiag.errors import ProfileFormatError
from concdiag.gate.diff import compare
from concdiag.gate.evaluate import target_status
from concdiag.gate.measure import measure
from concdiag.gate.policy import Policy
from concdiag.gate.result import Finding, GateResult, Measurement, TargetResult
from concdiag.model import Profile

#: What a side holds: each target's measurement, and its result when the side is a result.
Side = dict[str, tuple[Measurement, TargetResult | None]]


def load_side(path: Path, root: Path) -> Side:
    """A profile or a saved result, as measurements by target name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileFormatError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ProfileFormatError(
            f"{path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    if isinstance(data, dict) and data.get("schema") == "concdiag-gate-result":
        result = GateResult.from_dict(data)
        sides: Side = {
            t.name: (t.measurement, t) for t in result.targets if t.measurement is not None
        }
        if not sides:
            raise ProfileFormatError(f"{path}: the result holds no measured target")
        return sides
    profile = Profile.from_dict(data)
    name = (
        Path(profile.run.target).stem if profile.run.command[1:2] != ["-m"] else profile.run.target
    )
    return {name: (measure([profile], root), None)}


def pair_with_baseline(
    targets: list[TargetResult],
    base: Side,
    policy: Policy,
) -> list[TargetResult]:
    """Each target compared with its baseline (by name; a single pair is paired as is)."""
    measured = [t for t in targets if t.measurement is not None]
    single = len(measured) == 1 and len(base) == 1
    out: list[TargetResult] = []
    used: set[str] = set()
    for target in targets:
        base_name = next(iter(base)) if single else target.name
        if target.measurement is None or base_name not in base:
            if target.measurement is not None:
                note = Finding(
                    "unpaired-target", "advice", target.name, f"No baseline for {target.name}."
                )
                target = replace(target, findings=[*target.findings, note])
            out.append(target)
            continue
        used.add(base_name)
        configured = next((t for t in policy.targets if t.name == target.name), None)
        rules = configured.rules if configured else policy.rules
        changes, findings = compare(
            target.name, base[base_name][0], target.measurement, policy.diff, rules, target.script
        )
        merged = [*target.findings, *findings]
        out.append(
            replace(
                target,
                baseline=base[base_name][0],
                changes=changes,
                findings=merged,
                status=target_status(merged),
            )
        )
    for name in sorted(set(base) - used):
        finding = Finding(
            "unpaired-target", "advice", name, f"{name} is in the baseline only: not compared."
        )
        out.append(TargetResult(name, [], None, [], [], "passed", None, [finding]))
    return out


def with_baseline(
    targets: list[TargetResult], baseline: Path, policy: Policy, root: Path
) -> list[TargetResult]:
    """``check --baseline``: compare with the baseline when it exists, else say none was."""
    if baseline.exists():
        return pair_with_baseline(targets, load_side(baseline, root), policy)
    note = f"No baseline at {baseline}: nothing compared."
    return [
        replace(t, findings=[*t.findings, Finding("unpaired-target", "advice", t.name, note)])
        for t in targets
    ]
