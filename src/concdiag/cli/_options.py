"""Options shared by the commands that sample a target (profile, attach)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


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
            ]
        ):
            function = option(function)
        return function

    return decorate
