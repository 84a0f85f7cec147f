"""The `check` and `diff` sessions: find the targets, profile them, evaluate, compare.

The CLI parses options, calls `run_check` or `run_diff`, and hands the result to
`concdiag.gate.outputs.emit`. Measuring, evaluating and comparing are pure
(`concdiag.gate.measure`, `concdiag.gate.evaluate`, `concdiag.gate.diff`), and every output
is rendered from the one `GateResult` (`concdiag.gate.result`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from concdiag.collectors.target_invocation import TargetInvocation
from concdiag.errors import (
    EXIT_DEADLOCK,
    EXIT_INTERRUPTED,
    ConcdiagError,
    UsageError,
)
from concdiag.fileio import check_writable
from concdiag.gate.baseline import load_side, pair_with_baseline, with_baseline
from concdiag.gate.evaluate import evaluate, exit_code, target_status
from concdiag.gate.measure import MARGINS_TEXT, measure, relative_path
from concdiag.gate.policy import Policy, Rules, Target
from concdiag.gate.result import Finding, GateResult, Measurement, Site, TargetResult
from concdiag.model import Profile
from concdiag.redact import mask_args
from concdiag.session import Outcome, ProfileRequest, profile_script
from concdiag.whatif_session import DEFAULT_REPEAT, WhatIfRequest, whatif_script

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CheckRequest:
    inputs: tuple[str, ...]  # saved profiles (*.json), or SCRIPT ARGS...
    module: str | None
    policy: Policy
    root: Path
    repeat: int | None = None
    reports_dir: Path | None = None
    time_limit_s: float | None = None
    exit_zero: bool = False
    baseline: Path | None = None  # a saved result or profile to compare with (if it exists)
    confirm: bool = False  # --confirm: measure the alternatives (whatif) on the first run


def _command(target: Target) -> list[str]:
    head = ["python", "-m", target.module] if target.module else ["python", str(target.script)]
    return head[:-1] + mask_args([head[-1], *target.args])


def _policy_target(policy: Policy, script: str | None, module: str | None) -> Target | None:
    for target in policy.targets:
        if module is not None and target.module == module:
            return target
        if script is not None and target.script is not None:
            configured = (policy.project_dir / target.script).resolve()
            if configured == Path(script).resolve():
                return target
    return None


def adhoc_target(request: CheckRequest) -> Target:
    """The target named on the command line, with its rules from a matching policy target."""
    policy = request.policy
    script = None if request.module else request.inputs[0]
    args = request.inputs if request.module else request.inputs[1:]
    configured = _policy_target(policy, script, request.module)
    name = request.module or Path(str(script)).stem
    return Target(
        name=configured.name if configured else name,
        script=script,
        module=request.module,
        args=tuple(args) if (args or configured is None) else configured.args,
        time_limit_s=configured.time_limit_s if configured else policy.time_limit_s,
        python=configured.python if configured else policy.python,
        repeat=configured.repeat if configured else policy.repeat,
        rules=configured.rules if configured else policy.rules,
    )


def _resolve_script(target: Target, policy: Policy, from_policy: bool) -> str | None:
    if target.script is None:
        return None
    path = Path(target.script)
    if from_policy and not path.is_absolute():
        path = policy.project_dir / path
    if not path.exists():
        where = f" (target {target.name!r} in {policy.source})" if from_policy else ""
        raise UsageError(f"no such script: {target.script}{where}")
    shown = os.path.relpath(path) if path.is_absolute() else str(path)
    return shown if not shown.startswith("..") else str(path.resolve())


def _profile_target(
    target: Target,
    script: str | None,
    request: CheckRequest,
    echo: Echo,
) -> TargetResult:
    repeat = request.repeat or target.repeat
    profiles: list[Profile] = []
    json_paths: list[str] = []
    html_paths: list[str] = []
    findings: list[Finding] = []
    shown = relative_path(script, request.root) if script else None
    # code scanning wants a location: the script itself, when nothing narrower applies
    where = [Site(shown, 1, "script", "")] if shown else []
    for run in range(1, repeat + 1):
        echo(f"concdiag: profiling {target.name} (run {run} of {repeat})")
        try:
            outcome = _profile_once(target, script, request, run, repeat, echo)
        except UsageError:
            raise
        except ConcdiagError as exc:
            if exc.exit_code == EXIT_INTERRUPTED:
                raise
            findings.append(
                Finding(
                    "not-profiled",
                    "failed",
                    target.name,
                    f"Could not profile: {exc.message}",
                    {},
                    where,
                )
            )
            break
        if outcome.exit_code == EXIT_INTERRUPTED:
            raise ConcdiagError("interrupted; partial reports written", EXIT_INTERRUPTED)
        profiles.append(outcome.profile)
        json_paths.append(str(outcome.json_path))
        html_paths.append(str(outcome.html_path))
        if outcome.target_failed and not any(f.rule == "target-failed" for f in findings):
            findings.append(_target_failed(target.name, outcome, run, repeat, where))
    return _evaluated(
        target.name,
        _command(target),
        shown,
        profiles,
        json_paths,
        html_paths,
        findings,
        replace(target.rules, confirm=True) if request.confirm else target.rules,
        request.root,
    )


def _profile_once(
    target: Target,
    script: str | None,
    request: CheckRequest,
    run: int,
    repeat: int,
    echo: Echo,
) -> Outcome:
    """Profile the target once; the first run measures the alternatives when asked to."""
    policy = request.policy
    reports = request.reports_dir or (policy.project_dir / policy.reports_dir)
    stem = target.name if repeat == 1 else f"{target.name}.run{run}"
    profile_request = ProfileRequest(
        invocation=TargetInvocation(
            target=target.module or str(script),
            module=target.module is not None,
            args=target.args,
            python=target.python,
        ),
        rate_hz=policy.rate_hz,
        duration_s=request.time_limit_s or target.time_limit_s,
        json_path=reports / f"{stem}.json",
        html_path=reports / f"{stem}.html",
    )
    if run == 1 and (request.confirm or target.rules.confirm):
        return whatif_script(
            WhatIfRequest(profile_request, repeat=max(repeat, DEFAULT_REPEAT), sweep=None),
            echo=echo,
        )
    return profile_script(profile_request)


def _target_failed(
    name: str, outcome: Outcome, run: int, repeat: int, where: list[Site]
) -> Finding:
    """The target exited with an error (or deadlocked); its report is still written."""
    how = (
        "deadlocked and was ended"
        if outcome.exit_code == EXIT_DEADLOCK
        else outcome.profile.run.exit.description
    )
    return Finding(
        "target-failed",
        "failed",
        name,
        f"The target {how} (run {run} of {repeat}); "
        f"its report is still written: {outcome.html_path}.",
        {"exit_code": outcome.profile.run.exit.code},
        where,
    )


def _evaluated(
    name: str,
    command: list[str],
    script: str | None,
    profiles: Sequence[Profile],
    json_paths: list[str],
    html_paths: list[str],
    findings: list[Finding],
    rules: Rules,
    root: Path,
) -> TargetResult:
    m = measure(profiles, root) if profiles else None
    if m is not None:
        findings = findings + evaluate(name, m, rules, script)
    return TargetResult(
        name=name,
        command=command,
        script=script,
        profiles=json_paths,
        reports=html_paths,
        status=target_status(findings),
        measurement=m,
        findings=findings,
    )


def _saved_targets(request: CheckRequest) -> list[TargetResult]:
    """Saved profiles, grouped by target: several profiles of one target are repeated runs."""
    groups: dict[str, list[tuple[str, Profile]]] = {}
    for path in request.inputs:
        profile = Profile.load(Path(path))
        groups.setdefault(profile.run.target, []).append((path, profile))
    results = []
    for target_name, runs in groups.items():
        first = runs[0][1]
        script_path = None
        if first.run.command[1:2] != ["-m"]:
            script_path = os.path.join(first.run.cwd, target_name)
        configured = _policy_target(
            request.policy, script_path, target_name if script_path is None else None
        )
        rules = configured.rules if configured else request.policy.rules
        rules = replace(rules, confirm=True) if request.confirm else rules
        name = configured.name if configured else Path(target_name).stem
        script = relative_path(script_path, request.root) if script_path else None
        results.append(
            _evaluated(
                name,
                list(first.run.command),
                script,
                [p for _, p in runs],
                [path for path, _ in runs],
                [
                    str(Path(path).with_suffix(".html"))
                    for path, _ in runs
                    if Path(path).with_suffix(".html").is_file()
                ],
                [],
                rules,
                request.root,
            )
        )
    return results


def run_check(request: CheckRequest, echo: Echo) -> GateResult:
    policy = request.policy
    if request.inputs and all(i.endswith(".json") for i in request.inputs) and not request.module:
        if request.repeat and request.repeat > 1:
            raise UsageError("--repeat applies when profiling; give a script, not saved profiles")
        targets = _saved_targets(request)
    else:
        if request.inputs or request.module:
            chosen = [(adhoc_target(request), False)]
        elif policy.targets:
            chosen = [(t, True) for t in policy.targets]
        else:
            raise UsageError(
                "nothing to check: give PROFILE.json or SCRIPT, or configure "
                "[[tool.concdiag.targets]] in pyproject.toml"
            )
        scripts = [_resolve_script(t, policy, from_policy) for t, from_policy in chosen]
        reports = request.reports_dir or (policy.project_dir / policy.reports_dir)
        check_writable(reports / ".concdiag-check")
        targets = [
            _profile_target(target, script, request, echo)
            for (target, _), script in zip(chosen, scripts)
        ]
    if request.baseline is not None:
        targets = with_baseline(targets, request.baseline, policy, request.root)
    return _gate_result("check", targets, policy, request.exit_zero)


def run_diff(
    base_path: Path, head_path: Path, policy: Policy, root: Path, exit_zero: bool = False
) -> GateResult:
    base = load_side(base_path, root)
    head = [
        replace(t, findings=[], status="passed")
        if t is not None
        else TargetResult(name, [], _script_of(m), [str(head_path)], [], "passed", m, [])
        for name, (m, t) in load_side(head_path, root).items()
    ]
    return _gate_result("diff", pair_with_baseline(head, base, policy), policy, exit_zero)


def _gate_result(
    command: str, targets: list[TargetResult], policy: Policy, exit_zero: bool
) -> GateResult:
    return GateResult(
        command=command,
        passed=all(t.status == "passed" for t in targets),
        exit_code=exit_code(targets, exit_zero),
        policy_source=policy.source,
        margins=MARGINS_TEXT,
        targets=targets,
    )


def _script_of(m: Measurement) -> str | None:
    return m.sites[0].file if m.sites else None
