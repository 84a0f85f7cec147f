"""concdiag check: gate a saved profile, a script, or the configured targets on a policy."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from concdiag.cli._options import TargetCommand
from concdiag.cli._outputs import output_options, outputs_from
from concdiag.gate.outputs import emit
from concdiag.gate.policy import load_policy
from concdiag.gate.run import CheckRequest, run_check


class _CheckCommand(TargetCommand):
    """Options may follow saved profiles (``check a.json --sarif x``); after ``-m MODULE`` or a
    SCRIPT they belong to the target, as with ``python SCRIPT ARGS``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        own_end, target_start = self.target_split(ctx, args)
        first = args[target_start] if target_start < len(args) else ""
        profiles = own_end == target_start and first.endswith(".json")
        ctx.allow_interspersed_args = profiles
        if profiles:
            return click.Command.parse_args(self, ctx, args)
        return super().parse_args(ctx, args)


@click.command("check", cls=_CheckCommand, context_settings={"allow_interspersed_args": False})
@click.option("-m", "module", metavar="MODULE", help="Profile a module, like python -m.")
@click.option("--repeat", type=click.IntRange(1, 50), help="Profile each target N times (medians).")
@click.option(
    "--time-limit",
    "time_limit_s",
    type=click.FloatRange(min=0.1),
    help="Stop sampling each run after this many seconds (overrides time_limit_s).",
)
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where the JSON profiles and HTML reports go (default: reports_dir, 'reports').",
)
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A saved result or profile to compare with, as `diff` does (skipped if absent).",
)
@click.option(
    "--confirm",
    is_flag=True,
    help="Also run the program with its pools swapped (as `whatif` does) and fail a model "
    "mismatch only when the recommended model is measured faster past confirm_margin.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print only errors: no summary, annotations or $GITHUB_STEP_SUMMARY (for baselines).",
)
@output_options
@click.argument(
    "inputs", nargs=-1, type=click.UNPROCESSED, metavar="[PROFILE.json... | SCRIPT [ARGS]...]"
)
def command(
    module: str | None,
    repeat: int | None,
    time_limit_s: float | None,
    reports_dir: Path | None,
    baseline: Path | None,
    confirm: bool,
    quiet: bool,
    markdown: Path | None,
    sarif: Path | None,
    junit: Path | None,
    result_json: Path | None,
    annotations: bool | None,
    root: Path | None,
    exit_zero: bool,
    policy_file: Path | None,
    inputs: tuple[str, ...],
) -> None:
    """Evaluate saved profiles, or profile SCRIPT (or the configured targets), on the policy.

    With no configuration, fails when the verdict confidently contradicts the model in use
    (threads carrying GIL-held CPU work; processes where threads serve better). Exit codes:
    0 passed, 1 policy failed, 2 usage or configuration error, 3 a target could not be
    profiled, 4 a target failed (its report is still written), 130 interrupted.
    """
    policy = load_policy(policy_file, Path.cwd())
    outputs = outputs_from(markdown, sarif, junit, result_json, annotations, quiet)
    outputs.check_writable()
    request = CheckRequest(
        inputs=inputs,
        module=module,
        policy=policy,
        root=(root or policy.project_dir).resolve(),
        repeat=repeat,
        reports_dir=reports_dir,
        time_limit_s=time_limit_s,
        exit_zero=exit_zero,
        baseline=baseline,
        confirm=confirm,
    )
    result = run_check(request, lambda line: None if quiet else click.echo(line, err=True))
    stdout, notes = emit(result, outputs)
    if not quiet:
        click.echo(stdout, nl=False)
    for note in notes if not quiet else []:
        click.echo(f"concdiag: {note}", err=True)
    sys.exit(result.exit_code)
