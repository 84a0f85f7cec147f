"""concdiag report: re-render a saved JSON profile, or index a folder of them."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from concdiag.errors import UsageError
from concdiag.fileio import check_writable, write_atomic
from concdiag.model import Profile
from concdiag.render import FORMATS, get_renderer


@click.command("report")
@click.argument(
    "profile_path", metavar="[PROFILE.json]", required=False, type=click.Path(path_type=Path)
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Where to write (default: stdout; with --index, DIR/index.html).",
)
@click.option(
    "--index",
    "index_dir",
    metavar="DIR",
    type=click.Path(path_type=Path),
    help="Write an index page of every profile in DIR, newest first, with its verdict.",
)
def command(
    profile_path: Path | None, fmt: str, output: Path | None, index_dir: Path | None
) -> None:
    """Re-render a saved JSON profile as HTML, JSON, Markdown, speedscope, Chrome trace,
    Firefox Profiler (gecko) or pprof.

    speedscope files open at https://www.speedscope.app; Chrome trace files open in
    Perfetto (https://ui.perfetto.dev) and chrome://tracing; gecko files in
    https://profiler.firefox.com; pprof files (gzipped protobuf, written only to a file or a
    pipe) in `go tool pprof`, Pyroscope and Grafana.
    """
    if index_dir is not None:
        if profile_path is not None:
            raise UsageError("give either PROFILE.json or --index DIR, not both")
        from concdiag.render.index import render_index

        target = output or index_dir / "index.html"
        text = render_index(index_dir)
        check_writable(target)
        write_atomic(target, text)
        click.echo(f"wrote {target}", err=True)
        return
    if profile_path is None:
        raise UsageError("missing PROFILE.json (or --index DIR)")
    profile = Profile.load(profile_path)
    rendered = get_renderer(fmt).render(profile)
    if output is None:
        if isinstance(rendered, bytes):
            stdout = sys.stdout.buffer
            if stdout.isatty():
                raise UsageError(f"--format {fmt} is binary: give -o FILE or pipe it")
            stdout.write(rendered)
            stdout.flush()
            return
        click.echo(rendered, nl=False)
        return
    check_writable(output)
    write_atomic(output, rendered)
    click.echo(f"wrote {output}", err=True)
