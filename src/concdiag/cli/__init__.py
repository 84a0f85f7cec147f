"""The command line: a click group; each subcommand lives in its own module."""

from __future__ import annotations

import importlib
import sys

import click

from concdiag import __version__
from concdiag.errors import EXIT_USAGE, ConcdiagError

#: Each command's module, imported only when the command runs (or `--help` lists them), so
#: `concdiag --version` and a command's own start pay for no other command's imports.
COMMANDS: dict[str, str] = {
    "profile": "concdiag.cli.profile",
    "report": "concdiag.cli.report",
    "check": "concdiag.cli.check",
    "diff": "concdiag.cli.diff",
    "attach": "concdiag.cli.attach",
    "whatif": "concdiag.cli.whatif",
    "dump": "concdiag.cli.dump",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command: click.Command = importlib.import_module(module).command
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="concdiag")
def cli() -> None:
    """Measure a Python program and say whether threads, processes or neither would pay.

    Exit codes: `profile` exits with the target's own status (128+N when signal N killed
    it); otherwise 0 success, 1 policy failed, 2 usage or input error, 3 the target could
    not be profiled, 4 a target failed under `check` or `whatif`, 5 the target deadlocked
    (ended, report written), 130 interrupted.
    """


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
