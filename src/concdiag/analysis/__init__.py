"""From a recording to a `Profile`: accounting, current model, verdict. Pure functions."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from datetime import datetime

from concdiag import __version__
from concdiag.analysis.accounting import Accounting, replay
from concdiag.analysis.current_model import detect_kind, scan_source, user_files
from concdiag.analysis.deep import build_deep
from concdiag.analysis.locks import lock_report
from concdiag.analysis.no_gil import without_gil
from concdiag.analysis.stack_bound import bound_stacks
from concdiag.analysis.stalls import likely_deadlock
from concdiag.analysis.start_method import process_start
from concdiag.analysis.tree import tree_of
from concdiag.analysis.verdict import decide, inputs_from
from concdiag.model import (
    CollectorInfo,
    ExitStatus,
    Overhead,
    Profile,
    PythonInfo,
    RunInfo,
)
from concdiag.recording.recording import Recording
from concdiag.recording.records import CollectorNote

#: Above this share of one core, concdiag's own sampling may have slowed the target.
OVERHEAD_WARN_SHARE = 0.05


@dataclass
class RunContext:
    """What the command knew about the run, beside the recording itself."""

    mode: str
    command: list[str]
    target: str
    target_file: str | None
    cwd: str
    started_at: datetime
    ended_at: datetime
    exit_code: int | None
    exit_signal: int | None
    #: How the target ended, when the mode knows better than an exit status (attach).
    exit: ExitStatus | None = None
    partial_reasons: list[str] = field(default_factory=list)
    collectors: list[CollectorNote] = field(default_factory=list)
    concdiag_cpu_s: float = 0.0
    stack_sampler_cpu_s: float = 0.0  # of concdiag_cpu_s: py-spy's
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: attach: threads stuck on locks this long with no progress are a likely deadlock.
    deadlock_after_s: float | None = None
    #: launch: the exception that ended the script, when one did.
    uncaught: str | None = None


def exit_status(
    code: int | None, signal_number: int | None, uncaught: str | None = None
) -> ExitStatus:
    if signal_number is not None:
        import signal as _signal

        try:
            name = _signal.Signals(signal_number).name
        except ValueError:
            name = f"signal {signal_number}"
        return ExitStatus(None, signal_number, "signal", f"killed by {name}")
    if code is None:
        return ExitStatus(None, None, "unknown", "exit status unknown")
    if code == 0:
        return ExitStatus(0, None, "ok", "exited normally (0)")
    after = f" after an uncaught {uncaught}" if uncaught else ""
    return ExitStatus(code, None, "failed", f"exited with status {code}{after}")


def replay_profile(recording: Recording, ctx: RunContext) -> Profile:
    """The profile of a saved recording: its ticks replayed through the streaming accounting."""
    return build_profile(recording, ctx, replay(recording))


def build_profile(recording: Recording, ctx: RunContext, accounting: Accounting) -> Profile:
    """The profile of a run from what the accounting made of its ticks."""
    acc = accounting
    target = recording.target
    files = user_files(acc.files_seen, ctx.target_file)
    sites = [site for path in files for site in scan_source(path)]
    kind, evidence = detect_kind(
        acc.side_workers, acc.child_python_processes, acc.asyncio_seen, acc.asyncio_main
    )
    # the stacks the accounting joined (a streamed run's recording keeps none of its own)
    stacks_ok = bool(acc.stacks)
    frames, stacks, folded = bound_stacks(acc.frames, acc.stacks)
    locks = None
    if recording.locks is not None:
        locks = lock_report(recording.locks, acc.processes, frames, stacks, recording.rate_hz)
    elif ctx.mode == "attach" and ctx.deadlock_after_s is not None:
        locks = likely_deadlock(acc, frames, stacks, ctx.deadlock_after_s)
    start = process_start(target.version, recording.platform, files, acc.processes)
    inputs = inputs_from(acc, ctx.cpu_count, target.gil_enabled, stacks_ok)
    verdict = decide(
        dataclasses.replace(inputs, start_method=start.method),
        kind,
        evidence,
        sites,
        locks,
        start,
    )
    wall = max(acc.wall_s, 1e-9)
    core_share = ctx.concdiag_cpu_s / wall
    disturbed = core_share > OVERHEAD_WARN_SHARE or recording.late_ticks > 0.02 * max(1, acc.ticks)
    notes = []
    if core_share > OVERHEAD_WARN_SHARE:
        notes.append(
            f"concdiag used {100 * core_share:.1f}% of one core while sampling "
            f"(above {100 * OVERHEAD_WARN_SHARE:.0f}%"
            + (
                f"; py-spy {100 * ctx.stack_sampler_cpu_s / wall:.1f}%"
                if ctx.stack_sampler_cpu_s
                else ""
            )
            + "): on a busy machine this slows the target"
        )
    if recording.late_ticks:
        notes.append(f"{recording.late_ticks} sampling ticks were late or missed")
    status = (
        ctx.exit
        if ctx.exit is not None
        else exit_status(ctx.exit_code, ctx.exit_signal, ctx.uncaught)
    )
    stack_notes = []
    if folded:
        stack_notes.append(
            f"{len(acc.stacks)} distinct stacks: the {folded} rarest were folded into their "
            "callers to keep the profile small (no sample is lost)"
        )
    run = RunInfo(
        mode=ctx.mode,
        command=ctx.command,
        target=ctx.target,
        cwd=ctx.cwd,
        python=PythonInfo(
            executable=target.executable,
            version=target.version,
            implementation=target.implementation,
            gil_enabled=target.gil_enabled,
            free_threaded_build=target.free_threaded_build,
            switch_interval_s=target.switch_interval_s,
        ),
        cpu_count=ctx.cpu_count,
        platform=recording.platform,
        concdiag_version=__version__,
        started_at=ctx.started_at.isoformat(timespec="seconds"),
        ended_at=ctx.ended_at.isoformat(timespec="seconds"),
        duration_s=acc.wall_s,
        rate_hz=recording.rate_hz,
        sample_count=acc.samples,
        error_count=recording.errors,
        exit=status,
        partial=bool(ctx.partial_reasons),
        partial_reasons=list(ctx.partial_reasons),
        collectors=[CollectorInfo(c.name, c.ok, c.detail) for c in ctx.collectors]
        + [CollectorInfo("note", True, n) for n in [*recording.notes, *stack_notes]],
        overhead=Overhead(
            concdiag_cpu_s=ctx.concdiag_cpu_s,
            concdiag_core_share=core_share,
            stack_sampler_cpu_s=ctx.stack_sampler_cpu_s if ctx.stack_sampler_cpu_s else None,
            late_samples=recording.late_ticks,
            disturbed=disturbed,
            note="; ".join(notes),
        ),
    )
    profile = Profile(
        run=run,
        processes=acc.processes,
        summary=acc.summary,
        timeline=acc.timeline,
        frames=frames,
        stacks=stacks,
        verdict=verdict,
        deep=(
            build_deep(recording.yappi, acc.processes, acc.frames, acc.stacks, recording.rate_hz)
            if recording.yappi is not None
            else None
        ),
        locks=locks,
    )
    if not target.gil_enabled:
        profile = without_gil(profile)
    return dataclasses.replace(profile, tree=tree_of(profile))
