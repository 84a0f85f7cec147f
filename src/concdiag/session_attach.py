"""One attach session: checks, sampling a running process, analysis, writing every output.

Everything that can fail is checked before sampling starts (PID, Python version, permission
to read the target, py-spy, output paths), so a mistake costs one line and no waiting.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from concdiag.analysis import RunContext, build_profile
from concdiag.analysis.accounting import StreamingAccounting
from concdiag.analysis.tree import tree_of
from concdiag.collectors.attach import ChunkSink, attach, inspect_target, require_pyspy
from concdiag.collectors.records import Recording
from concdiag.errors import EXIT_INTERRUPTED, EXIT_OK, CannotProfileError
from concdiag.fileio import check_writable, write_atomic
from concdiag.interrupts import guarded_run
from concdiag.model import ExitStatus, Profile
from concdiag.redact import mask_args
from concdiag.render.html import HtmlRenderer
from concdiag.session import DEFAULT_REPORTS


@dataclass(frozen=True, slots=True)
class AttachRequest:
    pid: int
    rate_hz: float
    duration_s: float | None
    json_path: Path | None
    html_path: Path | None


@dataclass(frozen=True, slots=True)
class AttachOutcome:
    profile: Profile
    json_path: Path
    html_path: Path
    exit_code: int


def _paths(request: AttachRequest, now: datetime) -> tuple[Path, Path]:
    json_path = request.json_path
    if json_path is None:
        base = request.html_path.parent if request.html_path else DEFAULT_REPORTS
        json_path = base / f"pid{request.pid}-{now:%Y%m%d-%H%M%S}.json"
    return json_path, request.html_path or json_path.with_suffix(".html")


def _script_of(command: list[str]) -> str | None:
    """The script a ``python [options] script.py`` command line runs, when it is a file."""
    for arg in command[1:]:
        if arg.startswith("-"):
            if arg in ("-m", "-c"):
                return None
            continue
        return arg if arg.endswith(".py") else None
    return None


def attach_pid(request: AttachRequest, progress: object = None) -> AttachOutcome:
    with guarded_run() as signals:
        target = inspect_target(request.pid)
        require_pyspy()
        json_path, html_path = _paths(request, datetime.now())
        check_writable(json_path)
        check_writable(html_path)
        streams: list[StreamingAccounting] = []

        def sink(recording: Recording) -> ChunkSink:
            streams.append(StreamingAccounting(recording))
            return streams[0].feed

        result = attach(
            target,
            request.rate_hz,
            request.duration_s,
            progress=progress if callable(progress) else None,
            sink=sink,
        )
        script = _script_of(target.command)
        cwd = _target_cwd(request.pid) or os.getcwd()
        if script is not None and not os.path.isabs(script):
            script = os.path.join(cwd, script)
        ctx = RunContext(
            mode="attach",
            command=mask_args(target.command),
            target=f"pid {request.pid}",
            target_file=script,
            cwd=cwd,
            started_at=result.started_at,
            ended_at=result.ended_at,
            exit_code=None,
            exit_signal=None,
            partial_reasons=result.partial_reasons,
            collectors=result.collectors,
            concdiag_cpu_s=result.concdiag_cpu_s,
        )
        try:
            profile = build_profile(result.recording, ctx, accounting=streams[0].finish())
        except Exception as exc:  # never lose what was gathered
            raw = json_path.with_suffix(".recording.json")
            write_atomic(raw, json.dumps(result.recording.to_dict()))
            raise CannotProfileError(
                f"analysis failed ({type(exc).__name__}: {exc}); raw samples saved to {raw}"
            ) from exc
        if result.target_exited:
            status = ExitStatus(
                None, None, "unknown", "exited while concdiag was attached (status unknown)"
            )
        else:
            status = ExitStatus(None, None, "still_running", "still running; concdiag detached")
        profile = dataclasses.replace(
            profile, run=dataclasses.replace(profile.run, exit=status), tree=tree_of(profile)
        )
        document = profile.to_json()
        write_atomic(json_path, document)
        profile = Profile.from_dict(json.loads(document))
        write_atomic(html_path, HtmlRenderer().render(profile))
        code = EXIT_INTERRUPTED if (result.interrupted or signals.interrupted) else EXIT_OK
        return AttachOutcome(profile, json_path, html_path, code)


def _target_cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
