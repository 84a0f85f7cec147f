"""concdiag dump: one look at a running (or hung) process, every thread at one instant."""

from __future__ import annotations

import json
import sys

import click

from concdiag.errors import EXIT_DEADLOCK, EXIT_OK


@click.command("dump")
@click.argument("pid", type=int)
@click.option(
    "--subprocesses", is_flag=True, help="Also dump the process's Python child processes."
)
@click.option("--json", "as_json", is_flag=True, help="Print the dump as JSON instead of text.")
def command(pid: int, subprocesses: bool, as_json: bool) -> None:
    """Print every thread of the Python process PID now: its stack, its state (GIL held,
    GIL wait, native, I/O with the descriptor, lock wait, sleep), the GIL's holder, the
    `with` blocks each thread is inside and the lock it waits for, and a deadlock when those
    waits form a cycle.

    py-spy pauses the process for the moment it reads the stacks. Exit codes: 0 dumped,
    5 dumped and a deadlock seen, 2 bad PID or not Python 3.10-3.15, 3 not permitted to
    read the process or py-spy missing.
    """
    from concdiag.analysis.snapshot import read_dump
    from concdiag.collectors.snapshot import snapshot
    from concdiag.render.dump_text import dump_text

    dump = read_dump(snapshot(pid, subprocesses))
    if as_json:
        click.echo(json.dumps(dump.to_dict(), indent=1, sort_keys=True))
    else:
        click.echo(dump_text(dump), nl=False)
    sys.exit(EXIT_DEADLOCK if dump.deadlock else EXIT_OK)
