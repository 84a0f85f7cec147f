"""concdiag profile: launch a script or module under the samplers and report."""

from __future__ import annotations

from pathlib import Path

import click

from concdiag.cli._options import (
    TargetCommand,
    deadlock_after,
    run_and_report,
    sampling_outputs,
    target_invocation,
    target_python,
)
from concdiag.session import ProfileRequest, profile_script


@click.command("profile", cls=TargetCommand, context_settings={"allow_interspersed_args": False})
@click.option("-m", "module", metavar="MODULE", help="Profile a module, like python -m.")
@sampling_outputs("reports/<name>-<time>.json")
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0.1),
    help="Stop sampling after this many seconds, then end the target gently.",
)
@target_python
@click.option(
    "--deep",
    is_flag=True,
    help="Also trace every call with yappi inside the target: exact per-function CPU and "
    "call counts per thread (slows call-heavy code).",
)
@click.option(
    "--deep-clock",
    type=click.Choice(["auto", "cpu", "wall"]),
    default="auto",
    show_default=True,
    help="yappi's clock: cpu (per-function CPU), wall (coroutine awaits timed; cheaper), "
    "auto (wall for asyncio programs, else cpu).",
)
@click.option(
    "--collector",
    type=click.Choice(["auto", "inprocess"]),
    default="auto",
    show_default=True,
    help="auto: sample from outside (py-spy, /proc), inside the target only when tracing is "
    "denied; inprocess: always sample from a thread inside the target.",
)
@click.option(
    "--no-locks",
    is_flag=True,
    help="Do not track locks inside the target (no Locks section, no deadlock detection).",
)
@deadlock_after(
    "A wait-for cycle between threads (each holds a lock another waits for) lasting this "
    "long is a deadlock: the target is ended and concdiag exits 5."
)
@click.argument("target_args", nargs=-1, type=click.UNPROCESSED, metavar="[SCRIPT] [ARGS]...")
def command(
    module: str | None,
    rate_hz: float,
    duration_s: float | None,
    python: str | None,
    json_path: Path | None,
    html_path: Path | None,
    deep: bool,
    deep_clock: str,
    collector: str,
    quiet: bool,
    verbose: bool,
    no_locks: bool,
    deadlock_after_s: float,
    target_args: tuple[str, ...],
) -> None:
    """Run SCRIPT (or -m MODULE) with ARGS, sample it for its whole life, and report.

    Everything after SCRIPT or -m MODULE is the target's. Its stdin, stdout, stderr pass
    through, and concdiag exits with its status (128+N if signal N killed it), the report
    written either way; concdiag's own: 2 usage, 3 cannot profile, 5 it deadlocked (concdiag
    ended it; report written), 130 interrupted.
    """
    request = ProfileRequest(
        invocation=target_invocation(module, target_args, python, "profile"),
        rate_hz=rate_hz,
        duration_s=duration_s,
        json_path=json_path,
        html_path=html_path,
        deep_clock=deep_clock if deep else None,
        collector=collector,
        locks=not no_locks,
        deadlock_after_s=deadlock_after_s,
    )

    def notice(line: str) -> None:
        if not quiet:
            click.echo(f"concdiag: {line}", err=True)

    run_and_report(lambda progress: profile_script(request, progress, notice), quiet, verbose)
