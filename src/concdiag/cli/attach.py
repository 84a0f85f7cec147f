"""concdiag attach: sample a running Python process, then report."""

from __future__ import annotations

from pathlib import Path

import click

from concdiag.cli._options import deadlock_after, run_and_report, sampling_outputs
from concdiag.session import AttachRequest, attach_pid


@click.command("attach")
@click.argument("pid", type=int)
@sampling_outputs("reports/pid<PID>-<time>.json")
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0.1),
    help="Stop after this many seconds (default: until Ctrl-C or the target exits).",
)
@deadlock_after(
    "Every thread blocked on locks, with no progress, for the last SECONDS of the run is "
    "reported as a likely deadlock."
)
def command(
    pid: int,
    duration_s: float | None,
    rate_hz: float,
    json_path: Path | None,
    html_path: Path | None,
    quiet: bool,
    verbose: bool,
    deadlock_after_s: float,
) -> None:
    """Sample the running Python process PID until --duration ends, Ctrl-C, or it exits.

    The target is only read, never paused or changed, and keeps running when concdiag stops.
    Exit codes: 0 report written, 2 bad PID / not Python 3.10-3.13 / unwritable output,
    3 not permitted to read the target or py-spy missing, 130 interrupted (report written).
    """
    request = AttachRequest(pid, rate_hz, duration_s, json_path, html_path, deadlock_after_s)
    run_and_report(lambda progress: attach_pid(request, progress), quiet, verbose)
