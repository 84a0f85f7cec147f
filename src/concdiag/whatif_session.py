"""`concdiag whatif`: profile the program once, then time it with its pools swapped.

1. One normal profiled run (`session.profile_script`, the usual JSON and HTML), with the
   in-target pool swap loaded in "as written" mode: it records every pool the program
   creates (file:line), what cannot be swapped, failed tasks, and whether the program read
   standard input.
2. No rerun when that run failed, was cut short, or read standard input.
3. The alternatives (`analysis.whatif.plan`) and the program as written run ``repeat``
   times each, interleaved (the order rotates every round), under the bare interpreter plus
   the swap (`collectors.timed_runs`): no sampler disturbs their times.
4. Medians, spreads, speedups against the prediction and the test of the recommendation
   (`analysis.whatif.compare`) go into the profile's ``whatif`` part; the profile and its HTML are
   written again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from concdiag.analysis.whatif.compare import Runs, alternatives, confirm, failures, sites
from concdiag.analysis.whatif.plan import Variant, plan
from concdiag.analysis.whatif.scaling import scaling_curves
from concdiag.collectors.swap_report import SWAP_ENV, read_swap_report, swap_env
from concdiag.collectors.timed_runs import stdin_kind, stdin_offset, timed_run
from concdiag.errors import EXIT_DEADLOCK, EXIT_INTERRUPTED, EXIT_OK, EXIT_TARGET_FAILED
from concdiag.interrupts import SIGNALS, Interrupted, guarded_run
from concdiag.model import Profile
from concdiag.model.whatif import WhatIf
from concdiag.recording.whatif import SwapReport, TimedRun
from concdiag.session import Outcome, ProfileRequest, profile_script, write_profile

#: A rerun is stopped after max(TIME_LIMIT_FLOOR_S, TIME_LIMIT_FACTOR x the first run's
#: length) unless --time-limit says otherwise. A stated choice: an alternative may be much
#: slower than the program as written (bench/workloads/tiny_tasks.py: 0.01 s serially,
#: 0.57 s on a process pool), but one that hangs must not hold the command forever.
TIME_LIMIT_FLOOR_S = 60.0
TIME_LIMIT_FACTOR = 10.0
DEFAULT_REPEAT = 3

METHOD = (
    "Each alternative and the program as written ran {repeat} time(s), interleaved (the "
    "order rotates every round), under the bare interpreter with concdiag's pool swap loaded "
    "at start-up and no sampler, standard input from /dev/null. Wall time runs from the "
    "script's first line to the process's exit (the interpreter's start-up left out); CPU "
    "time is the process tree's (user + system, start-up included). Medians; the spread is "
    "half the range over the runs; a difference counts only past both spreads and past a tie "
    "of 10% or 50 ms."
)

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class WhatIfRequest:
    profile: ProfileRequest
    repeat: int = DEFAULT_REPEAT
    #: True: also serial and one worker per core, not only as asked; None: only what tests
    #: the recommendation (as asked, and serial when it recommends serial), for `check`.
    sweep: bool | None = True
    time_limit_s: float | None = None  # per rerun
    #: Worker counts for a scaling curve (``--workers 1,2,4``): each pool kind at each.
    counts: tuple[int, ...] = ()


def whatif_script(
    request: WhatIfRequest,
    progress: object = None,
    notice: Callable[[str], None] | None = None,
    echo: Echo | None = None,
) -> Outcome:
    """Profile the target once, then measure its alternatives; the profile gets ``whatif``."""
    workdir = Path(tempfile.mkdtemp(prefix="concdiag-whatif-"))
    SIGNALS.temp_dirs.add(str(workdir))
    try:
        return _whatif(request, workdir, progress, notice, echo or (lambda line: None))
    finally:
        SIGNALS.temp_dirs.discard(str(workdir))
        shutil.rmtree(workdir, ignore_errors=True)


def _whatif(
    request: WhatIfRequest,
    workdir: Path,
    progress: object,
    notice: Callable[[str], None] | None,
    echo: Echo,
) -> Outcome:
    report = workdir / "first.jsonl"
    stdin = stdin_kind()
    offset = stdin_offset() if stdin == "file" else None
    watch = stdin not in ("devnull", "closed")
    env = ((SWAP_ENV, swap_env("as_written", None, report, watch=watch)),)
    outcome = profile_script(replace(request.profile, extra_env=env), progress, notice)
    first = read_swap_report(report)
    profile = outcome.profile
    read_stdin = first.read_stdin or (offset is not None and stdin_offset() != offset)
    why = _why_not_rerun(outcome, first, read_stdin)
    code = outcome.exit_code  # `profile` passes the target's status through; whatif keeps 4
    if outcome.target_failed and code not in (EXIT_INTERRUPTED, EXIT_DEADLOCK):
        code = EXIT_TARGET_FAILED
    if why is not None:
        part = _unmeasured("skipped", why, first, profile, request.repeat)
    else:
        sweep = bool(request.sweep)
        serial = sweep if request.sweep is not None else profile.verdict.recommendation == "serial"
        cores = profile.run.cpu_count
        variants = plan(
            first.pools, cores, first.interpreters, sweep, serial=serial, counts=request.counts
        )
        if not variants:
            why = "the program created no pool that can be swapped"
            part = _unmeasured("nothing_to_swap", why, first, profile, request.repeat)
        else:
            part, interrupted = _measure(request, profile, first, variants, workdir, echo)
            code = EXIT_INTERRUPTED if interrupted else code
    written = write_profile(replace(profile, whatif=part), outcome.json_path, outcome.html_path)
    return Outcome(written, outcome.json_path, outcome.html_path, code)


def _why_not_rerun(outcome: Outcome, first: SwapReport, read_stdin: bool) -> str | None:
    run = outcome.profile.run
    if outcome.exit_code != EXIT_OK and not outcome.chose_status:
        return f"the first run {run.exit.description}: the program is not rerun"
    if run.partial:
        return "the first run was cut short (" + "; ".join(run.partial_reasons) + "): not rerun"
    if read_stdin:
        return (
            "the program read standard input in its first run: it is not rerun (a rerun "
            "would not get the same input)"
        )
    if not first.installed:
        return "concdiag's pool swap did not load in the target (see its standard error)"
    return None


def _unmeasured(status: str, why: str, first: SwapReport, profile: Profile, repeat: int) -> WhatIf:
    return WhatIf(
        status=status,
        note=why[:1].upper() + why[1:] + ".",
        method=METHOD.format(repeat=repeat),
        repeat=repeat,
        sites=sites(first, profile),
        alternatives=[],
        failures=[],
        outcome="not_measured",
        measured_recommendation=None,
        message=f"Not measured: {why}.",
        cpu_count=profile.run.cpu_count,
    )


def _measure(
    request: WhatIfRequest,
    profile: Profile,
    first: SwapReport,
    variants: list[Variant],
    workdir: Path,
    echo: Echo,
) -> tuple[WhatIf, bool]:
    """Run every variant ``repeat`` times, interleaved; stop a variant at its first failure."""
    limit = request.time_limit_s or max(
        TIME_LIMIT_FLOOR_S, TIME_LIMIT_FACTOR * profile.run.duration_s
    )
    runs: dict[str, list[TimedRun]] = {v.label: [] for v in variants}
    # a linter that found something exits 1 by choice: its reruns must do the same
    expected_code = profile.run.exit.code or 0
    stopped: set[str] = set()
    total = request.repeat * len(variants)
    done = 0
    interrupted = False
    load = [round(os.getloadavg()[0], 2)]
    with guarded_run():
        try:
            for round_ in range(request.repeat):
                shift = round_ % len(variants)
                for variant in variants[shift:] + variants[:shift]:
                    if variant.label in stopped:
                        continue
                    run = timed_run(
                        request.profile.invocation,
                        variant.kind,
                        variant.workers,
                        limit,
                        workdir,
                        expected_code,
                    )
                    runs[variant.label].append(run)
                    done += 1
                    state = f"{run.wall_s:.2f} s" if run.ok else "failed"
                    echo(f"concdiag: whatif run {done} of {total}: {variant.label}: {state}")
                    if not run.ok:
                        stopped.add(variant.label)
                if any(v.as_written and v.label in stopped for v in variants):
                    break  # nothing left to compare with
        except Interrupted:
            interrupted = True
    load.append(round(os.getloadavg()[0], 2))
    measured = [Runs(v, runs[v.label]) for v in variants]
    alts = alternatives(profile.verdict, measured)
    outcome, winner, message = confirm(profile.verdict, alts)
    note = ""
    if interrupted:
        note = f"Interrupted after {done} of {total} runs; the figures cover those."
    elif any(v.as_written and v.label in stopped for v in variants):
        note = "The program as written failed when rerun: the alternatives were not compared."
    part = WhatIf(
        status="interrupted" if interrupted else "measured",
        note=note,
        method=METHOD.format(repeat=request.repeat),
        repeat=request.repeat,
        sites=sites(first, profile),
        alternatives=alts,
        failures=failures(first, measured),
        outcome=outcome,
        measured_recommendation=winner,
        message=message,
        cpu_count=profile.run.cpu_count,
        load_average=load,
        scaling=scaling_curves(list(zip(variants, alts, strict=True)), profile.run.cpu_count),
    )
    return part, interrupted
