"""concdiag report: re-render a saved JSON profile."""

from __future__ import annotations

from pathlib import Path

import click

from concdiag.fileio import check_writable, write_atomic
from concdiag.model import Profile
from concdiag.render import FORMATS, get_renderer


@click.command("report")
@click.argument("profile_path", metavar="PROFILE.json", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Where to write (default: stdout)."
)
def command(profile_path: Path, fmt: str, output: Path | None) -> None:
    """Re-render a saved JSON profile as HTML, JSON or Markdown."""
    profile = Profile.load(profile_path)
    text = get_renderer(fmt).render(profile)
    if output is None:
        click.echo(text, nl=False)
        return
    check_writable(output)
    write_atomic(output, text)
    click.echo(f"wrote {output}", err=True)
