"""Options, the target's arguments and the progress line shared by the commands that sample."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import click

from concdiag.collectors.target_invocation import TargetInvocation
from concdiag.errors import UsageError
from concdiag.render.text import summary_text
from concdiag.session import Outcome

F = TypeVar("F", bound=Callable[..., object])


class TargetCommand(click.Command):
    """A command whose own options end where the target begins, as python's do.

    Everything after ``-m MODULE`` or after the first argument that is not an option (the
    script) is the target's, whatever it looks like: ``concdiag profile -m black --check -q``
    hands ``--check -q`` to black, and a script's own ``-o 2`` stays the script's. A ``--``
    before the target is allowed and dropped. Options before the target are concdiag's, and
    an unknown one is a usage error.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        own_end, target_start = self.target_split(ctx, args)
        if target_start >= len(args):
            return super().parse_args(ctx, list(args[:own_end]))
        # click takes whatever follows "--" as positional arguments, options or not
        return super().parse_args(ctx, [*args[:own_end], "--", *args[target_start:]])

    def target_split(self, ctx: click.Context, args: list[str]) -> tuple[int, int]:
        """(where concdiag's options end, where the target's arguments start) in ``args``."""
        takes_value: dict[str, bool] = {}
        module_opts: set[str] = set()
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for opt in (*param.opts, *param.secondary_opts):
                    takes_value[opt] = not (param.is_flag or param.count)
                if param.name == "module":
                    module_opts.update(param.opts)
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                return i, i + 1
            if not arg.startswith("-") or arg == "-":
                return i, i  # the script
            if arg.startswith("--"):
                name = arg.split("=", 1)[0]
                i += 1 + int(takes_value.get(name, False) and "=" not in arg)
                if name in module_opts:
                    return i, i
                continue
            for j in range(1, len(arg)):  # a cluster of short options: -q, -qm MODULE, -mMODULE
                opt = "-" + arg[j]
                if takes_value.get(opt, False):
                    i += 1 if j < len(arg) - 1 else 2  # its value: the rest, or the next
                    if opt in module_opts:
                        return i, i
                    break
            else:
                i += 1
        return len(args), len(args)


#: --python, for the commands that launch the target (profile, whatif).
target_python = click.option(
    "--python",
    "python",
    metavar="PATH",
    help="Interpreter to run the target with (e.g. a project's venv python), 3.10+.",
)


def sampling_outputs(json_default: str) -> Callable[[F], F]:
    """--rate, --json, -o/--output and --quiet, with the JSON default path named."""

    def decorate(function: F) -> F:
        for option in reversed(
            [
                click.option(
                    "--rate",
                    "rate_hz",
                    type=click.FloatRange(1, 1000),
                    default=100,
                    show_default=True,
                    help="Samples per second.",
                ),
                click.option(
                    "--json",
                    "json_path",
                    type=click.Path(path_type=Path, dir_okay=False),
                    help=f"JSON profile path (default: {json_default}).",
                ),
                click.option(
                    "-o",
                    "--output",
                    "html_path",
                    type=click.Path(path_type=Path, dir_okay=False),
                    help="HTML report path (default: beside the JSON, .html).",
                ),
                click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
                click.option(
                    "-v",
                    "--verbose",
                    is_flag=True,
                    help="Print every note of the summary, not only how many there are.",
                ),
            ]
        ):
            function = option(function)
        return function

    return decorate


def deadlock_after(help_text: str) -> Callable[[F], F]:
    """--deadlock-after SECONDS (default `lock_tables.DEADLOCK_AFTER_S`)."""
    from concdiag.collectors.lock_tables import DEADLOCK_AFTER_S

    return click.option(
        "--deadlock-after",
        "deadlock_after_s",
        type=click.FloatRange(min=0.1),
        default=DEADLOCK_AFTER_S,
        show_default=True,
        metavar="SECONDS",
        help=help_text,
    )


class Progress:
    """A live progress line on a terminal only, refreshed twice a second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.shown = False

    def __call__(self, elapsed_s: float, ticks: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.5:
            return
        self.last = now
        self.shown = True
        sys.stderr.write(f"\rconcdiag: sampling {elapsed_s:6.1f} s, {ticks} ticks ")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 50 + "\r")
            sys.stderr.flush()


def target_invocation(
    module: str | None, target_args: tuple[str, ...], python: str | None, verb: str
) -> TargetInvocation:
    """The script (or module) and its arguments, as ``python [-m] TARGET ARGS`` takes them."""
    if module is None and not target_args:
        raise UsageError(f"give a script to {verb}, or -m MODULE")
    if module is not None:
        return TargetInvocation(module, True, tuple(target_args), python)
    return TargetInvocation(target_args[0], False, tuple(target_args[1:]), python)


def run_and_report(
    run: Callable[[Progress | None], Outcome], quiet: bool, verbose: bool = False
) -> NoReturn:
    """Run a sampling command with a progress line on a terminal, print its summary, exit."""
    progress = Progress() if (not quiet and sys.stderr.isatty()) else None
    try:
        outcome = run(progress)
    finally:
        if progress is not None:
            progress.clear()
    if not quiet:
        written = [outcome.json_path, outcome.html_path]
        click.echo(summary_text(outcome.profile, written, verbose), err=True)
    sys.exit(outcome.exit_code)
