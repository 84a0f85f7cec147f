"""One pipeline for every command that samples: checks, collect, build, write, render.

`profile_script` (launch) and `attach_pid` (attach) differ only in their checks, how they
collect, and how the target's end is described; both then go through `_build_and_write`:
the profile is built from the streamed accounting (process tree included), written
atomically, and the HTML rendered from the document as written. The CLI only parses options
and calls these; ``check`` reuses `profile_script`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from concdiag.analysis import RunContext, build_profile, exit_status
from concdiag.analysis.accounting.streaming import AccountingSink
from concdiag.collectors.attach import attach, require_pyspy
from concdiag.collectors.launch import LaunchRequest, check_interpreter, launch
from concdiag.collectors.lock_tables import DEADLOCK_AFTER_S
from concdiag.collectors.protocol import Collected
from concdiag.collectors.remote_interpreter import inspect_target
from concdiag.collectors.target_invocation import TargetInvocation
from concdiag.errors import (
    EXIT_DEADLOCK,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CannotProfileError,
    UsageError,
    target_exit_code,
)
from concdiag.fileio import check_writable, write_atomic
from concdiag.interrupts import guarded_run
from concdiag.model import ExitStatus, Profile
from concdiag.redact import mask_args
from concdiag.render.html import HtmlRenderer

DEFAULT_REPORTS = Path("reports")

Progress = Callable[[float, int], None]


@dataclass(frozen=True, slots=True)
class ProfileRequest:
    invocation: TargetInvocation
    rate_hz: float
    duration_s: float | None
    json_path: Path | None
    html_path: Path | None
    deep_clock: str | None = None  # --deep: run yappi in the target with this clock
    collector: str = "auto"
    locks: bool = True  # track locks in the target (and detect deadlocks)
    deadlock_after_s: float = DEADLOCK_AFTER_S
    extra_env: tuple[tuple[str, str], ...] = ()  # more environment for the bootstrap (whatif)


@dataclass(frozen=True, slots=True)
class AttachRequest:
    pid: int
    rate_hz: float
    duration_s: float | None
    json_path: Path | None
    html_path: Path | None
    deadlock_after_s: float | None = DEADLOCK_AFTER_S  # likely deadlock: stuck this long


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a sampling command produced: the profile as written, where, and the exit code."""

    profile: Profile
    json_path: Path
    html_path: Path
    exit_code: int
    #: launch: the target exited non-zero, was killed (not by concdiag's --duration) or
    #: deadlocked: what `check` and `whatif` count as a failed target
    target_failed: bool = False
    #: launch: the target's exit status was its own choice (it returned or called exit),
    #: not a crash (an uncaught exception, a signal) nor concdiag's doing
    chose_status: bool = False


def output_paths(stem: str, json_path: Path | None, html_path: Path | None) -> tuple[Path, Path]:
    """Where the JSON and HTML go: as given, else ``reports/<stem>-<time>``, side by side."""
    if json_path is None:
        base = html_path.parent if html_path else DEFAULT_REPORTS
        json_path = base / f"{stem or 'profile'}-{datetime.now():%Y%m%d-%H%M%S}.json"
    return json_path, html_path or json_path.with_suffix(".html")


def check_target(invocation: TargetInvocation) -> None:
    if invocation.module:
        return  # the bootstrap looks the module up with the target interpreter
    path = Path(invocation.target)
    if not path.exists():
        raise UsageError(f"no such script: {invocation.target}")
    if path.is_dir() and not (path / "__main__.py").is_file():
        raise UsageError(f"{invocation.target} is a directory with no __main__.py")


def profile_script(
    request: ProfileRequest,
    progress: object = None,
    notice: Callable[[str], None] | None = None,
) -> Outcome:
    """Launch and profile a script; Ctrl-C/SIGTERM are handled: a report is always written."""
    with guarded_run() as signals:
        invocation = request.invocation
        check_target(invocation)
        if invocation.python is not None:
            check_interpreter(invocation.python)
        stem = (
            invocation.target.replace(".", "_")
            if invocation.module
            else Path(invocation.target).stem
        )
        json_path, html_path = output_paths(stem, request.json_path, request.html_path)
        check_writable(json_path)
        check_writable(html_path)

        sink = AccountingSink()
        collected = launch(
            LaunchRequest(
                invocation=invocation,
                rate_hz=request.rate_hz,
                duration_s=request.duration_s,
                deep_clock=request.deep_clock,
                collector=request.collector,
                locks=request.locks,
                deadlock_after_s=request.deadlock_after_s,
                extra_env=request.extra_env,
            ),
            sink,
            progress=progress if callable(progress) else None,
            notice=notice,
        )
        shown = (["python", "-m"] if invocation.module else ["python"]) + mask_args(
            [invocation.target, *invocation.args]
        )
        ctx = _context(
            collected,
            mode="launch",
            command=shown,
            target=invocation.target,
            target_file=None if invocation.module else invocation.target,
            cwd=os.getcwd(),
        )
        profile = _build_and_write(collected, sink, ctx, json_path, html_path)
    ended = profile.run.exit.status in ("failed", "signal") and not collected.stopped_by_duration
    failed = collected.deadlock or ended
    if collected.interrupted or signals.interrupted:
        code = EXIT_INTERRUPTED
    elif collected.deadlock:
        code = EXIT_DEADLOCK  # concdiag ended the target: its status is concdiag's doing
    elif collected.stopped_by_duration:
        code = EXIT_OK  # likewise
    else:
        code = target_exit_code(profile.run.exit.code, profile.run.exit.signal)
    chose = (
        profile.run.exit.status in ("ok", "failed")
        and collected.uncaught is None
        and not (collected.deadlock or collected.stopped_by_duration or collected.interrupted)
    )
    return Outcome(profile, json_path, html_path, code, target_failed=failed, chose_status=chose)


def attach_pid(request: AttachRequest, progress: object = None) -> Outcome:
    """Sample a running process; every check happens before sampling starts."""
    with guarded_run() as signals:
        target = inspect_target(request.pid)
        require_pyspy()
        json_path, html_path = output_paths(
            f"pid{request.pid}", request.json_path, request.html_path
        )
        check_writable(json_path)
        check_writable(html_path)
        sink = AccountingSink()
        collected = attach(
            target,
            request.rate_hz,
            request.duration_s,
            sink,
            progress=progress if callable(progress) else None,
        )
        cwd = _target_cwd(request.pid) or os.getcwd()
        script = _script_of(target.command)
        if script is not None and not os.path.isabs(script):
            script = os.path.join(cwd, script)
        if collected.target_exited:
            status = ExitStatus(
                None, None, "unknown", "exited while concdiag was attached (status unknown)"
            )
        else:
            status = ExitStatus(None, None, "still_running", "still running; concdiag detached")
        ctx = _context(
            collected,
            mode="attach",
            command=mask_args(target.command),
            target=f"pid {request.pid}",
            target_file=script,
            cwd=cwd,
            exit=status,
            deadlock_after_s=request.deadlock_after_s,
        )
        profile = _build_and_write(collected, sink, ctx, json_path, html_path)
    interrupted = collected.interrupted or signals.interrupted
    return Outcome(profile, json_path, html_path, EXIT_INTERRUPTED if interrupted else EXIT_OK)


def _context(
    collected: Collected,
    *,
    mode: str,
    command: list[str],
    target: str,
    target_file: str | None,
    cwd: str,
    exit: ExitStatus | None = None,
    deadlock_after_s: float | None = None,
) -> RunContext:
    return RunContext(
        mode=mode,
        command=command,
        target=target,
        target_file=target_file,
        cwd=cwd,
        started_at=collected.started_at,
        ended_at=collected.ended_at,
        exit_code=collected.exit_code,
        exit_signal=collected.exit_signal,
        exit=exit,
        partial_reasons=collected.partial_reasons,
        collectors=list(collected.notes),
        concdiag_cpu_s=collected.concdiag_cpu_s,
        stack_sampler_cpu_s=collected.stack_sampler_cpu_s,
        deadlock_after_s=deadlock_after_s,
        uncaught=collected.uncaught,
    )


def _build_and_write(
    collected: Collected,
    sink: AccountingSink,
    ctx: RunContext,
    json_path: Path,
    html_path: Path,
) -> Profile:
    """Build the profile, write it atomically, render the HTML from the document as written.

    If the analysis fails, what was gathered is saved raw (atomically) beside the JSON path.
    """
    recording = collected.recording.freeze(*sink.unaccounted())
    try:
        profile = build_profile(recording, ctx, accounting=sink.finish(recording))
    except Exception as exc:  # never lose what was gathered
        raw = json_path.with_suffix(".recording.json")
        recording.save(raw)
        target = ctx.exit or exit_status(ctx.exit_code, ctx.exit_signal, ctx.uncaught)
        raise CannotProfileError(
            f"analysis failed ({type(exc).__name__}: {exc}); raw samples saved to {raw}; "
            f"the target {target.description}"
        ) from exc
    return write_profile(profile, json_path, html_path)


def write_profile(profile: Profile, json_path: Path, html_path: Path) -> Profile:
    """Write the JSON atomically, then the HTML rendered from the document as written."""
    document = profile.to_json()
    write_atomic(json_path, document)
    # Render from the document as written, so `concdiag report` reproduces it exactly.
    written = Profile.from_dict(json.loads(document))
    write_atomic(html_path, HtmlRenderer().render(written))
    return written


def _script_of(command: list[str]) -> str | None:
    """The script a ``python [options] script.py`` command line runs, when it is a file."""
    for arg in command[1:]:
        if arg.startswith("-"):
            if arg in ("-m", "-c"):
                return None
            continue
        return arg if arg.endswith(".py") else None
    return None


def _target_cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
