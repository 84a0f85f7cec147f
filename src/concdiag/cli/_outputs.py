"""Options shared by `check` and `diff`: where the CI outputs go."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from concdiag.gate.outputs import Outputs

F = TypeVar("F", bound=Callable[..., Any])

_PATH = click.Path(path_type=Path, dir_okay=False)


def output_options(func: F) -> F:
    options = [
        click.option("--markdown", "markdown", type=_PATH, help="Write the Markdown summary here."),
        click.option("--sarif", "sarif", type=_PATH, help="Write SARIF 2.1.0 (code scanning)."),
        click.option("--junit", "junit", type=_PATH, help="Write JUnit XML."),
        click.option("--result", "result_json", type=_PATH, help="Write the JSON result."),
        click.option(
            "--annotations/--no-annotations",
            default=None,
            help="Print GitHub Actions annotations (default: on when GITHUB_ACTIONS=true).",
        ),
        click.option(
            "--root",
            type=click.Path(path_type=Path, file_okay=False),
            help="Repository root that file paths are made relative to (default: the project).",
        ),
        click.option(
            "--exit-zero",
            is_flag=True,
            help="Exit 0 when only the policy fails (still 2, 3 or 4 on errors).",
        ),
        click.option(
            "--policy",
            "policy_file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Policy file (default: [tool.concdiag] of the nearest pyproject.toml).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def outputs_from(
    markdown: Path | None,
    sarif: Path | None,
    junit: Path | None,
    result_json: Path | None,
    annotations: bool | None,
    quiet: bool = False,
) -> Outputs:
    summary = None if quiet else os.environ.get("GITHUB_STEP_SUMMARY")
    return Outputs(
        markdown=markdown,
        sarif=sarif,
        junit=junit,
        result_json=result_json,
        annotations=(
            os.environ.get("GITHUB_ACTIONS") == "true" and not quiet
            if annotations is None
            else annotations
        ),
        step_summary=Path(summary) if summary else None,
    )
