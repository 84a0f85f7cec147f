"""The measured alternatives against the prediction: pure functions to the ``whatif`` part.

Each alternative's repeated runs become a median and a spread (half the range); its measured
speedup over the program as written is set beside the speedup the verdict predicted. Then
the recommendation is tested: it is *refuted* when another model ran faster past the spread,
*confirmed* when nothing did (and, where it recommends a costlier model than the one in use,
which only pays by being faster, that speed was measured past the spread), and
*inconclusive* when that speed stayed inside the spread. When they disagree the measurement
wins, and the message says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from concdiag.analysis.whatif.plan import Variant, predicted_against
from concdiag.model import Profile, Verdict
from concdiag.model.whatif import Alternative, SwapSite, TaskFailure, Timing
from concdiag.recording.whatif import SwapReport, TimedRun

#: Two times differing by less than this share of the faster one, or TIE_S, are a tie
#: whatever their spread: the convention bench/verdicts.py names right models by ("within
#: 10% or 50 ms of the fastest"), so a difference nobody would act on overturns nothing.
TIE_SHARE = 0.10
TIE_S = 0.05
#: What running each model costs beyond its speed (start-up, memory, pickling), in order. A
#: recommendation to a costlier model promises speed, so it is confirmed only when that speed
#: is measured; one to a cheaper model promises the same speed for less, so it is confirmed
#: when the cheaper model is not slower. A definition: serial costs nothing, threads share one
#: process, interpreters one process with isolated interpreters, processes copy everything.
MODEL_COST = {"serial": 0, "threading": 1, "interpreters": 2, "mixed": 2, "multiprocessing": 3}
#: Threads not started through Python that used at least this much CPU are named as a pool
#: the swap cannot reach (a C extension's own threads): a stated choice, a few sampler ticks.
NATIVE_THREAD_CPU_S = 0.05


@dataclass(frozen=True, slots=True)
class Runs:
    """What the reruns of one variant gave (the runs stop at its first failure)."""

    variant: Variant
    runs: list[TimedRun]


def timing(values: Sequence[float]) -> Timing:
    low, high = min(values), max(values)
    return Timing(
        median_s=round(statistics.median(values), 6),
        low_s=round(low, 6),
        high_s=round(high, 6),
        margin_s=round((high - low) / 2, 6),
        runs_s=[round(v, 6) for v in values],
    )


def faster(a: Timing, b: Timing) -> bool:
    """Whether ``a`` ran faster than ``b`` past both spreads and past a tie."""
    gap = b.median_s - a.median_s
    return gap > a.margin_s + b.margin_s and gap > max(TIE_SHARE * a.median_s, TIE_S)


def sites(first: SwapReport, profile: Profile) -> list[SwapSite]:
    """Every pool the program created, and what the swap could not reach."""
    out = []
    for p in first.pools:
        note = p.note
        if not p.named:
            note = (note + "; " if note else "") + (
                "the line does not name the pool (compiled code or a helper created it); "
                "the nearest Python line is shown"
            )
        out.append(SwapSite(p.kind, p.file, p.line, p.code, p.count, p.workers, p.swappable, note))
    for s in first.starts:
        via = f" (started by {s.via})" if s.via else ""
        what = "threading.Thread" if s.what == "thread" else "multiprocessing.Process"
        note = f"a bare {what}{via} is not a pool: it cannot be swapped"
        out.append(SwapSite(s.what, s.file, s.line, s.code, s.count, None, False, note))
    native = [
        t
        for proc in profile.processes
        for t in proc.threads
        if not t.python and t.cpu_user_s + t.cpu_system_s >= NATIVE_THREAD_CPU_S
    ]
    if native:
        cpu = sum(t.cpu_user_s + t.cpu_system_s for t in native)
        note = (
            f"{len(native)} thread(s) not started through Python used {cpu:.2f} CPU s: a pool "
            "a C extension runs itself cannot be swapped"
        )
        out.append(SwapSite("native_threads", None, None, "", len(native), None, False, note))
    return out


def _status(runs: list[TimedRun], reference: str | None) -> tuple[str, str]:
    last = runs[-1] if runs else None
    if last is None:
        return "not_run", "not run (interrupted)"
    if last.timed_out:
        return "timed_out", "stopped at the time limit"
    if not last.ok:
        how = f"exited with status {last.exit_code}" if last.exit_code is not None else "killed"
        return "failed", how + (f": {last.stderr_last}" if last.stderr_last else "")
    if reference is not None and any(r.stdout_digest != reference for r in runs):
        return "output_differs", (
            "printed different output from the program as written (its results differ: "
            "a shared object that processes do not share?); not compared"
        )
    return "ok", ""


def _swap_note(runs: list[TimedRun]) -> str:
    if not runs:
        return ""
    pools = runs[0].report.pools
    swapped = [p for p in pools if p.became is not None]
    notes = sorted({p.note for p in swapped if p.note})
    return "; ".join(notes)


def alternatives(verdict: Verdict, measured: list[Runs]) -> list[Alternative]:
    """One `Alternative` per variant, with speedups against the program as written."""
    written = next(m for m in measured if m.variant.as_written)
    written_ok = [r for r in written.runs if r.ok]
    digests = {r.stdout_digest for r in written_ok}
    reference = next(iter(digests)) if len(digests) == 1 else None
    base = timing([r.wall_s for r in written_ok]) if written_ok and _all_ok(written) else None
    out = []
    for m in measured:
        status, note = _status(m.runs, None if m.variant.as_written else reference)
        swap_note = _swap_note(m.runs)
        note = "; ".join(n for n in (note, swap_note) if n)
        ok = [r for r in m.runs if r.ok] if status in ("ok", "output_differs") else []
        wall = timing([r.wall_s for r in ok]) if ok else None
        cpu = timing([r.cpu_s for r in ok]) if ok else None
        speed = low = high = None
        if wall is not None and base is not None and wall.median_s > 0:
            speed = base.median_s / wall.median_s
            low = max(0.0, base.median_s - base.margin_s) / (wall.median_s + wall.margin_s)
            slowest = wall.median_s - wall.margin_s
            high = (base.median_s + base.margin_s) / slowest if slowest > 0 else None
        guess = predicted_against(verdict.predicted_speedup, m.variant, written.variant)
        out.append(
            Alternative(
                label=m.variant.label,
                kind=m.variant.kind,
                workers=m.variant.workers,
                model=m.variant.model,
                as_written=m.variant.as_written,
                status=status,
                note=note,
                wall=wall,
                cpu=cpu,
                cores_used=_round(cpu.median_s / wall.median_s) if cpu and wall else None,
                speedup=_round(speed),
                speedup_low=_round(low),
                speedup_high=_round(high),
                predicted_speedup=_round(guess),
                prediction=_prediction(guess, low, high),
            )
        )
    return out


def _all_ok(m: Runs) -> bool:
    return bool(m.runs) and all(r.ok for r in m.runs)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _prediction(guess: float | None, low: float | None, high: float | None) -> str:
    if guess is None:
        return "none"
    if low is None:
        return "unmeasured"
    if guess < low:
        return "pessimistic"
    if high is not None and guess > high:
        return "optimistic"
    return "agrees"


def failures(baseline: SwapReport, measured: list[Runs]) -> list[TaskFailure]:
    """Tasks that failed under an alternative but not in the first run, by submitting line."""
    known = {(e.file, e.line, e.error.split(":", 1)[0]) for e in baseline.task_errors}
    out: dict[tuple[str, str | None, int | None, str], TaskFailure] = {}
    for m in measured:
        for run in m.runs:
            for e in run.report.task_errors:
                if (e.file, e.line, e.error.split(":", 1)[0]) in known:
                    continue
                key = (m.variant.label, e.file, e.line, e.error)
                if key not in out or out[key].count < e.count:
                    out[key] = TaskFailure(
                        m.variant.label, e.error, e.task, e.file, e.line, e.code, e.count
                    )
    return list(out.values())


def _best(alts: list[Alternative], model: str) -> Alternative | None:
    timed = [a for a in alts if a.model == model and a.status == "ok" and a.wall is not None]
    return min(timed, key=lambda a: a.wall.median_s if a.wall else 0.0, default=None)


def _seconds(a: Alternative) -> str:
    assert a.wall is not None
    return f"{a.wall.median_s:.2f} s ± {a.wall.margin_s:.2f}"


def _cores(a: Alternative) -> str:
    return "? cores" if a.cores_used is None else f"{a.cores_used:.2f} cores"


def confirm(verdict: Verdict, alts: list[Alternative]) -> tuple[str, str | None, str]:
    """(outcome, the model measured fastest when it beats the recommendation, the sentence)."""
    rec = verdict.recommendation
    written = next((a for a in alts if a.as_written), None)
    if written is None or written.wall is None or written.status != "ok":
        return "not_measured", None, "The program as written did not run cleanly again."
    ours = _best(alts, rec)
    if ours is None:
        tried = next((a for a in alts if a.model == rec), None)
        why = f"{tried.label}: {tried.note}" if tried else "it was not among the alternatives"
        return "not_measured", None, f"The recommended model ({rec}) could not be measured: {why}."
    timed = [a for a in alts if a.status == "ok" and a.wall is not None]
    fastest = min(timed, key=lambda a: a.wall.median_s if a.wall else 0.0)
    assert ours.wall is not None and fastest.wall is not None
    beaten = [a for a in timed if a.model != rec and a.wall and faster(a.wall, ours.wall)]
    if beaten:
        best = min(beaten, key=lambda a: a.wall.median_s if a.wall else 0.0)
        return (
            "refuted",
            best.model,
            f"The measurement wins: {best.label} ran in {_seconds(best)}, faster past the "
            f"spread than the recommended {rec} ({ours.label}: {_seconds(ours)}).",
        )
    gain = ours.predicted_speedup
    predicted = f"predicted {gain:.2f}x" if gain is not None else "no prediction"
    if MODEL_COST.get(rec, 0) > MODEL_COST.get(written.model, 0):
        if not faster(ours.wall, written.wall):
            return (
                "inconclusive",
                None,
                f"Not confirmed: {ours.label} ran in {_seconds(ours)} on {_cores(ours)} "
                f"against {_seconds(written)} on {_cores(written)} as written ({predicted}): "
                "no gain past the spread.",
            )
        return (
            "confirmed",
            None,
            f"Confirmed: {ours.label} ran {ours.speedup or 0:.2f}x faster than as written "
            f"({_seconds(ours)} against {_seconds(written)}; {predicted}).",
        )
    also = "" if fastest is ours else f"; fastest: {fastest.label}, {_seconds(fastest)}"
    return (
        "confirmed",
        None,
        f"Confirmed: no alternative ran faster than {rec} past the spread "
        f"({ours.label}: {_seconds(ours)}{also}).",
    )
