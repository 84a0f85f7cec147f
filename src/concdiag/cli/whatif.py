"""concdiag whatif: profile a script once, then run it with its pools swapped and time it."""

from __future__ import annotations

from pathlib import Path

import click

from concdiag.cli._options import (
    TargetCommand,
    run_and_report,
    sampling_outputs,
    target_invocation,
    target_python,
)
from concdiag.errors import UsageError
from concdiag.session import ProfileRequest
from concdiag.whatif_session import DEFAULT_REPEAT, WhatIfRequest, whatif_script

#: The most workers a scaling curve runs at: a stated bound, so a typo cannot start hundreds
#: of processes.
MAX_COUNTED_WORKERS = 64


def worker_counts(text: str) -> tuple[int, ...]:
    """``--workers``: () for all or asked, else the listed counts (1 to MAX_COUNTED_WORKERS)."""
    if text in ("all", "asked"):
        return ()
    try:
        counts = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        counts = ()
    if not counts or counts[0] < 1 or counts[-1] > MAX_COUNTED_WORKERS:
        raise UsageError(
            f"--workers takes all, asked, or counts 1 to {MAX_COUNTED_WORKERS} such as 1,2,4; "
            f"got {text!r}"
        )
    return counts


@click.command("whatif", cls=TargetCommand, context_settings={"allow_interspersed_args": False})
@click.option("-m", "module", metavar="MODULE", help="Run a module, like python -m.")
@click.option(
    "--repeat",
    type=click.IntRange(1, 20),
    default=DEFAULT_REPEAT,
    show_default=True,
    help="Time the program as written and each alternative this many times (medians).",
)
@click.option(
    "--workers",
    default="all",
    show_default=True,
    metavar="all|asked|N,N,...",
    help="all: also serial (each task run inline: the baseline) and one worker per core; "
    "asked: only the number the program asked for; a list such as 1,2,4: the serial baseline "
    "and each pool kind at each count, fitted into a scaling curve.",
)
@click.option(
    "--time-limit",
    "time_limit_s",
    type=click.FloatRange(min=0.1),
    help="End a rerun after this many seconds (default: 10x the first run, at least 60 s).",
)
@target_python
@sampling_outputs("reports/<name>-<time>.json")
@click.argument("target_args", nargs=-1, type=click.UNPROCESSED, metavar="[SCRIPT] [ARGS]...")
def command(
    module: str | None,
    repeat: int,
    workers: str,
    time_limit_s: float | None,
    python: str | None,
    rate_hz: float,
    json_path: Path | None,
    html_path: Path | None,
    quiet: bool,
    verbose: bool,
    target_args: tuple[str, ...],
) -> None:
    """Run SCRIPT (or -m MODULE) once under the samplers, then again with its pools swapped.

    The program runs many times: once profiled, then as written and with each alternative
    (threads for processes and back, serial, one worker per core), --repeat times each,
    interleaved, with standard input from /dev/null. A program that reads standard input or
    whose first run fails is not rerun. Exit codes: 0, 2 usage, 3 could not profile, 4 the
    first run failed (report written), 130 interrupted.
    """
    request = WhatIfRequest(
        profile=ProfileRequest(
            invocation=target_invocation(module, target_args, python, "run"),
            rate_hz=rate_hz,
            duration_s=None,
            json_path=json_path,
            html_path=html_path,
        ),
        repeat=repeat,
        sweep=workers != "asked",
        time_limit_s=time_limit_s,
        counts=worker_counts(workers),
    )

    def say(line: str) -> None:
        if not quiet:
            click.echo(line if line.startswith("concdiag:") else f"concdiag: {line}", err=True)

    run_and_report(lambda progress: whatif_script(request, progress, say, say), quiet, verbose)
