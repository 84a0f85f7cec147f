"""concdiag diff: compare two profiles (or two check results) and fail on regressions."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from concdiag.cli._outputs import output_options, outputs_from
from concdiag.gate.outputs import emit
from concdiag.gate.policy import load_policy
from concdiag.gate.run import run_diff


@click.command("diff")
@click.argument("base", metavar="BASE.json", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("head", metavar="HEAD.json", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--max-wall-increase",
    type=click.FloatRange(min=0),
    help="Largest relative wall-time increase, e.g. 0.25 (overrides diff.max_wall_increase).",
)
@click.option(
    "--max-cpu-increase",
    type=click.FloatRange(min=0),
    help="Largest relative CPU-time increase (overrides diff.max_cpu_increase).",
)
@click.option(
    "--max-gil-wait-increase",
    type=click.FloatRange(0, 1),
    help="Largest GIL-wait share increase in points, e.g. 0.1 (diff.max_gil_wait_share_increase).",
)
@output_options
def command(
    base: Path,
    head: Path,
    max_wall_increase: float | None,
    max_cpu_increase: float | None,
    max_gil_wait_increase: float | None,
    markdown: Path | None,
    sarif: Path | None,
    junit: Path | None,
    result_json: Path | None,
    annotations: bool | None,
    root: Path | None,
    exit_zero: bool,
    policy_file: Path | None,
) -> None:
    """Show what changed from BASE to HEAD (verdict, state shares, times, GIL contention).

    Each side is a JSON profile or a `check --result` file (medians of repeated runs).
    A figure regresses when HEAD is worse by more than its limit plus the noise margins,
    which the output states. Exit codes: 0 no regression, 1 regression, 2 usage error.
    """
    policy = load_policy(policy_file, Path.cwd())
    limits = policy.diff
    if max_wall_increase is not None:
        limits = replace(limits, max_wall_increase=max_wall_increase)
    if max_cpu_increase is not None:
        limits = replace(limits, max_cpu_increase=max_cpu_increase)
    if max_gil_wait_increase is not None:
        limits = replace(limits, max_gil_wait_share_increase=max_gil_wait_increase)
    policy = replace(policy, diff=limits)
    outputs = outputs_from(markdown, sarif, junit, result_json, annotations)
    outputs.check_writable()
    result = run_diff(base, head, policy, (root or policy.project_dir).resolve(), exit_zero)
    stdout, notes = emit(result, outputs)
    click.echo(stdout, nl=False)
    for note in notes:
        click.echo(f"concdiag: {note}", err=True)
    sys.exit(result.exit_code)
