"""One profiling session: checks, launch, analysis, and writing every output.

The CLI only parses options and calls `profile_script`; everything else happens here so
that tests (and other commands such as ``check``) reuse the same path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from concdiag.analysis import RunContext, build_profile
from concdiag.analysis.tree import tree_of
from concdiag.collectors.launch import LaunchRequest, check_interpreter, launch
from concdiag.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TARGET_FAILED,
    CannotProfileError,
    UsageError,
)
from concdiag.fileio import check_writable, write_atomic
from concdiag.interrupts import guarded_run
from concdiag.model import Profile
from concdiag.redact import mask_args
from concdiag.render.html import HtmlRenderer

DEFAULT_REPORTS = Path("reports")


@dataclass(frozen=True, slots=True)
class ProfileRequest:
    target: str
    module: bool
    args: tuple[str, ...]
    python: str | None
    rate_hz: float
    duration_s: float | None
    json_path: Path | None
    html_path: Path | None
    deep_clock: str | None = None  # --deep: run yappi in the target with this clock
    collector: str = "auto"


@dataclass(frozen=True, slots=True)
class ProfileOutcome:
    profile: Profile
    json_path: Path
    html_path: Path
    exit_code: int


def output_paths(request: ProfileRequest, now: datetime) -> tuple[Path, Path]:
    stem = request.target.replace(".", "_") if request.module else Path(request.target).stem
    stem = stem or "profile"
    json_path = request.json_path
    if json_path is None:
        base = request.html_path.parent if request.html_path else DEFAULT_REPORTS
        json_path = base / f"{stem}-{now:%Y%m%d-%H%M%S}.json"
    html_path = request.html_path or json_path.with_suffix(".html")
    return json_path, html_path


def check_target(request: ProfileRequest) -> None:
    if request.module:
        return  # the bootstrap looks the module up with the target interpreter
    path = Path(request.target)
    if not path.exists():
        raise UsageError(f"no such script: {request.target}")
    if path.is_dir() and not (path / "__main__.py").is_file():
        raise UsageError(f"{request.target} is a directory with no __main__.py")


def profile_script(
    request: ProfileRequest,
    progress: object = None,
    notice: Callable[[str], None] | None = None,
) -> ProfileOutcome:
    """Ctrl-C/SIGTERM are handled for the whole run: a report is always written."""
    with guarded_run() as signals:
        outcome = _profile_script(request, progress, notice)
    if signals.interrupted and outcome.exit_code == EXIT_OK:
        return dataclasses.replace(outcome, exit_code=EXIT_INTERRUPTED)
    return outcome


def _profile_script(
    request: ProfileRequest,
    progress: object = None,
    notice: Callable[[str], None] | None = None,
) -> ProfileOutcome:
    check_target(request)
    python = request.python or sys.executable
    if request.python is not None:
        check_interpreter(request.python)
    now = datetime.now()
    json_path, html_path = output_paths(request, now)
    check_writable(json_path)
    check_writable(html_path)

    result = launch(
        LaunchRequest(
            python=python,
            target=request.target,
            module=request.module,
            args=request.args,
            rate_hz=request.rate_hz,
            duration_s=request.duration_s,
            deep_clock=request.deep_clock,
            collector=request.collector,
        ),
        progress=progress if callable(progress) else None,
        notice=notice,
    )
    command = (["python", "-m"] if request.module else ["python"]) + mask_args(
        [request.target, *request.args]
    )
    ctx = RunContext(
        mode="launch",
        command=command,
        target=request.target,
        target_file=None if request.module else request.target,
        cwd=os.getcwd(),
        started_at=result.started_at,
        ended_at=result.ended_at,
        exit_code=result.exit_code,
        exit_signal=result.exit_signal,
        partial_reasons=result.partial_reasons,
        collectors=result.collectors,
        concdiag_cpu_s=result.concdiag_cpu_s,
    )
    try:
        profile = build_profile(result.recording, ctx)
    except Exception as exc:  # never lose what was gathered
        raw = json_path.with_suffix(".recording.json")
        write_atomic(raw, "")
        result.recording.save(raw)
        raise CannotProfileError(
            f"analysis failed ({type(exc).__name__}: {exc}); raw samples saved to {raw}"
        ) from exc
    profile = dataclasses.replace(profile, tree=tree_of(profile))
    document = profile.to_json()
    write_atomic(json_path, document)
    # Render from the document as written, so `concdiag report` reproduces it exactly.
    profile = Profile.from_dict(json.loads(document))
    write_atomic(html_path, HtmlRenderer().render(profile))
    if result.interrupted:
        code = EXIT_INTERRUPTED
    elif profile.run.exit.status in ("failed", "signal") and not result.stopped_by_duration:
        code = EXIT_TARGET_FAILED
    else:
        code = EXIT_OK
    return ProfileOutcome(profile, json_path, html_path, code)
