"""The command line: a click group; each subcommand lives in its own module."""

from __future__ import annotations

import sys

import click

from concdiag import __version__
from concdiag.cli import attach as _attach
from concdiag.cli import check as _check
from concdiag.cli import diff as _diff
from concdiag.cli import dump as _dump
from concdiag.cli import profile as _profile
from concdiag.cli import report as _report
from concdiag.cli import whatif as _whatif
from concdiag.errors import EXIT_USAGE, ConcdiagError

COMMANDS: list[click.Command] = [
    _profile.command,
    _report.command,
    _check.command,
    _diff.command,
    _attach.command,
    _whatif.command,
    _dump.command,
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="concdiag")
def cli() -> None:
    """Measure a Python program and say whether threads, processes or neither would pay.

    Exit codes: `profile` exits with the target's own status (128+N when signal N killed
    it); otherwise 0 success, 1 policy failed, 2 usage or input error, 3 the target could
    not be profiled, 4 a target failed under `check` or `whatif`, 5 the target deadlocked
    (ended, report written), 130 interrupted.
    """


for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point: every ConcdiagError becomes one line on stderr and its exit code."""
    try:
        cli.main(standalone_mode=False)
    except ConcdiagError as exc:
        click.echo(f"concdiag: error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("concdiag: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        click.echo(f"concdiag: error: {exc.format_message()}{where}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("concdiag: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
