"""From a recording and its accounting to a `Profile`, in named steps.

`build_profile` reads as the list of what happens: the program's own source is read (where
it creates threads and pools, its start method), the stacks kept for the report are chosen,
lock findings are made, the verdict is decided, the figures are given the GIL's absence where
there is none, and the run's details, deep tables and process tree are put beside them. Each
step is a pure function of the run and of what the steps before it produced.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from datetime import datetime

from concdiag import __version__
from concdiag.analysis.accounting.result import Accounting
from concdiag.analysis.accounting.stack_bound import bound_stacks
from concdiag.analysis.accounting.streaming import replay
from concdiag.analysis.accounting.tree import tree_of
from concdiag.analysis.accounting.without_gil import (
    deep_without_gil,
    processes_without_gil,
    summary_without_gil,
    timeline_without_gil,
)
from concdiag.analysis.deep import build_deep
from concdiag.analysis.event_loop import event_loop
from concdiag.analysis.gil_blame import gil_blame
from concdiag.analysis.locks.report import lock_report
from concdiag.analysis.locks.stalls import likely_deadlock
from concdiag.analysis.verdict.consistency import STRICT_ENV, InconsistentVerdict, violations
from concdiag.analysis.verdict.current_model import detect_kind, scan_source, user_files
from concdiag.analysis.verdict.decide import decide, inputs_from
from concdiag.analysis.verdict.shipping import shipping_figures
from concdiag.analysis.verdict.start_method import process_start
from concdiag.model import (
    CodeSite,
    CollectorInfo,
    ExitStatus,
    Frame,
    Overhead,
    ProcessProfile,
    Profile,
    PythonInfo,
    RunInfo,
    StackCount,
    Summary,
    Timeline,
    Verdict,
)
from concdiag.model.deep import DeepProfile
from concdiag.model.event_loop import EventLoop
from concdiag.model.gil_blame import GilBlame
from concdiag.model.locks import LockReport
from concdiag.model.speedup import ProcessStart
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
    program = read_program(recording, ctx, accounting)
    kept = kept_stacks(accounting)
    locks = lock_findings(recording, ctx, accounting, kept)
    figures = shown_figures(recording, accounting)
    blame = gil_blame(accounting.gil_blame, figures.processes, accounting.tick_s)
    loop = event_loop(accounting.event_loops, figures.processes, accounting.tick_s)
    verdict = verdict_of(recording, ctx, accounting, program, locks, blame, loop)
    broken = checked_against_figures(verdict, figures, ctx)
    run = run_info(recording, ctx, accounting, kept, broken)
    return Profile(
        run=run,
        processes=figures.processes,
        summary=figures.summary,
        timeline=figures.timeline,
        frames=kept.frames,
        stacks=kept.stacks,
        verdict=verdict,
        deep=deep_tables(recording, accounting),
        locks=locks,
        gil_blame=blame,
        event_loop=loop,
        tree=tree_of(
            figures.processes, figures.summary, kept.frames, kept.stacks, recording.rate_hz
        ),
    )


@dataclass(frozen=True)
class Program:
    """What the program's own files say: the lines that create threads and pools, the model
    those and the accounting point to, and how it starts processes."""

    sites: list[CodeSite]
    kind: str
    evidence: str
    start: ProcessStart


def read_program(recording: Recording, ctx: RunContext, acc: Accounting) -> Program:
    files = user_files(acc.files_seen, ctx.target_file)
    sites = [site for path in files for site in scan_source(path)]
    kind, evidence = detect_kind(
        acc.side_workers, acc.child_python_processes, acc.asyncio_seen, acc.asyncio_main
    )
    start = process_start(recording.target.version, recording.platform, files, acc.processes)
    return Program(sites, kind, evidence, start)


@dataclass(frozen=True)
class KeptStacks:
    """The stacks the report keeps (the rarest folded into their callers), and how many."""

    frames: list[Frame]
    stacks: list[StackCount]
    folded: int


def kept_stacks(acc: Accounting) -> KeptStacks:
    return KeptStacks(*bound_stacks(acc.frames, acc.stacks))


def lock_findings(
    recording: Recording, ctx: RunContext, acc: Accounting, kept: KeptStacks
) -> LockReport | None:
    """The lock tracker's tables joined with the samples; in attach mode, where no tracker
    runs, threads stuck on locks with no progress (a likely deadlock)."""
    if recording.locks is not None:
        return lock_report(
            recording.locks, acc.processes, kept.frames, kept.stacks, recording.rate_hz
        )
    if ctx.mode == "attach" and ctx.deadlock_after_s is not None:
        return likely_deadlock(acc, kept.frames, kept.stacks, ctx.deadlock_after_s)
    return None


def verdict_of(
    recording: Recording,
    ctx: RunContext,
    acc: Accounting,
    program: Program,
    locks: LockReport | None,
    blame: GilBlame | None = None,
    loop: EventLoop | None = None,
) -> Verdict:
    # the stacks the accounting joined (a streamed run's recording keeps none of its own)
    inputs = inputs_from(acc, ctx.cpu_count, recording.target.gil_enabled, bool(acc.stacks))
    return decide(
        dataclasses.replace(
            inputs,
            start_method=program.start.method,
            shipping=shipping_figures(recording.shipping),
            gil_holder=blame.top_line() if blame is not None else None,
            loop_stalls=tuple(loop.stalls) if loop is not None else (),
        ),
        program.kind,
        program.evidence,
        program.sites,
        locks,
        program.start,
    )


@dataclass(frozen=True)
class ShownFigures:
    processes: list[ProcessProfile]
    summary: Summary
    timeline: Timeline


def shown_figures(recording: Recording, acc: Accounting) -> ShownFigures:
    """The accounting's figures as the profile shows them: without a GIL, its states and
    figures are absent rather than zero (the verdict was decided on the figures as counted)."""
    if recording.target.gil_enabled:
        return ShownFigures(acc.processes, acc.summary, acc.timeline)
    return ShownFigures(
        processes_without_gil(acc.processes),
        summary_without_gil(acc.summary),
        timeline_without_gil(acc.timeline),
    )


def checked_against_figures(verdict: Verdict, figures: ShownFigures, ctx: RunContext) -> list[str]:
    """The verdict's contradictions with its own figures (`verdict.consistency`): an error
    under its strict setting (the test suite), otherwise said in the report's notes."""
    broken = violations(verdict, figures.processes, figures.summary, ctx.cpu_count)
    if broken and os.environ.get(STRICT_ENV) == "1":
        raise InconsistentVerdict("; ".join(broken))
    return broken


def deep_tables(recording: Recording, acc: Accounting) -> DeepProfile | None:
    if recording.yappi is None:
        return None
    deep = build_deep(recording.yappi, acc.processes, acc.frames, acc.stacks, recording.rate_hz)
    return deep if recording.target.gil_enabled else deep_without_gil(deep)


def run_info(
    recording: Recording,
    ctx: RunContext,
    acc: Accounting,
    kept: KeptStacks,
    broken: list[str] | None = None,
) -> RunInfo:
    """The run's details: command, interpreter, exit, collectors and notes, concdiag's cost."""
    target = recording.target
    notes = [
        f"the verdict contradicts its own figures (a bug in concdiag's rules): {b}"
        for b in broken or []
    ]
    ipc_s = sum(t.ipc_wait_s for p in acc.processes for t in p.threads)
    if ipc_s > 0:
        notes.append(
            f"threads waited {ipc_s:.2f} s on pipes and sockets to other processes of the "
            "tree (or for a child): counted as coordination, not as I/O"
        )
    if kept.folded:
        notes.append(
            f"{len(acc.stacks)} distinct stacks: the {kept.folded} rarest were folded into "
            "their callers to keep the profile small (no sample is lost)"
        )
    status = (
        ctx.exit
        if ctx.exit is not None
        else exit_status(ctx.exit_code, ctx.exit_signal, ctx.uncaught)
    )
    return RunInfo(
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
        + [CollectorInfo("note", True, n) for n in [*recording.notes, *notes]],
        overhead=overhead(recording, ctx, acc),
    )


def overhead(recording: Recording, ctx: RunContext, acc: Accounting) -> Overhead:
    """What concdiag cost while sampling, and whether it may have disturbed the target."""
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
    return Overhead(
        concdiag_cpu_s=ctx.concdiag_cpu_s,
        concdiag_core_share=core_share,
        stack_sampler_cpu_s=ctx.stack_sampler_cpu_s if ctx.stack_sampler_cpu_s else None,
        late_samples=recording.late_ticks,
        disturbed=disturbed,
        note="; ".join(notes),
    )
