"""States against each thread's own clocks: the on-CPU rule, error bars and the clock check,
on synthetic recordings whose scheduler clocks are written out tick by tick."""

from __future__ import annotations

import dataclasses

import pytest

from concdiag.analysis.accounting.clock_figures import share_error
from concdiag.analysis.accounting.tick_clocks import (
    STARVED,
    on_cpu_fraction,
    queued_ns,
    resolve_on_cpu,
)
from concdiag.model import Profile
from concdiag.recording.recording import Recording
from concdiag.recording.records import ThreadInfo, ThreadObservation, Tick
from concdiag.render.figures import clock_notes
from concdiag.render.markdown import MarkdownRenderer
from concdiag.render.text import summary_text
from helpers import FUTEX, PID, RATE, Synthetic, account, profile_of, target_info

TICK_NS = int(1e9 / RATE)


def clocked(pattern: dict[int, str], ticks: int, with_clocks: bool = True) -> Synthetic:
    """Threads cycling through ``pattern[tid]``, one tick per letter, with their clocks.

    "H" runs holding the GIL, "N" runs native code, "Q" is runnable but queued for a CPU, "W"
    waits for the GIL in futex. Each letter holds for the tick around its sample (half an
    interval each side), so the run clock grows by half a tick for each running end of an
    interval; the delay clock grows by a queued stretch when the thread next runs, as the
    kernel's does.
    """
    rec = Synthetic(rate_hz=RATE, target=target_info())
    run = dict.fromkeys(pattern, 0)
    delay = dict.fromkeys(pattern, 0)
    queued = dict.fromkeys(pattern, 0)
    half = TICK_NS // 2
    for tid in pattern:
        rec.threads[(PID, tid)] = ThreadInfo(PID, tid, f"t{tid}", tid, True, tid == PID)
    for i in range(ticks):
        holder = None
        observations = []
        for tid, seq in pattern.items():
            code = seq[i % len(seq)]
            for end in ([seq[(i - 1) % len(seq)]] if i else []) + [code]:
                if end in "HN":
                    run[tid] += half
                    delay[tid] += queued[tid]  # a wait is added when it ends
                    queued[tid] = 0
                elif end == "Q":
                    queued[tid] += half
            if code == "H":
                holder = tid
            observations.append(
                ThreadObservation(
                    tid,
                    "S" if code == "W" else "R",
                    FUTEX if code == "W" else None,
                    code == "W",
                    run[tid] // TICK_NS,
                    run_ns=run[tid] if with_clocks else None,
                    run_delay_ns=delay[tid] if with_clocks else None,
                    timeslices=i if with_clocks else None,
                )
            )
        rec.ticks.append(
            Tick(
                i / RATE,
                PID,
                holder is not None,
                holder,
                i,
                sum(run.values()) // TICK_NS,
                tuple(observations),
            )
        )
    rec.duration_s = ticks / RATE
    return rec


def thread(profile: Profile, tid: int):  # type: ignore[no-untyped-def]
    return next(t for p in profile.processes for t in p.threads if t.tid == tid)


def test_on_cpu_fraction_of_a_window() -> None:
    assert on_cpu_fraction(2 * TICK_NS, 0) == 1.0  # ran throughout
    assert on_cpu_fraction(TICK_NS, 4 * TICK_NS) == pytest.approx(0.2)
    assert on_cpu_fraction(0, TICK_NS) == 0.0  # did not run at all
    assert on_cpu_fraction(TICK_NS, -TICK_NS) == 1.0  # a lagging run clock is no wait


def test_queued_time_per_interval_from_the_clocks() -> None:
    span = TICK_NS
    # a wait the kernel counted when it ended (a new timeslice): the delay clock's growth
    assert queued_ns([True, True], [0, 0.01], [0, span // 2], [0, span // 2], [0, 1]) == [span // 2]
    # runnable at both ends, no new timeslice: on a CPU or queued throughout
    assert queued_ns([True, True], [0, 0.01], [0, span // 5], [0, 0], [3, 3]) == [
        pytest.approx(0.8 * span)
    ]
    # asleep between two runnable samples (a new timeslice, no delay): nothing queued, so a
    # thread that slept in a GIL wait between samples is not taken for one waiting for a CPU
    assert queued_ns([True, True], [0, 0.01], [0, span // 2], [0, 0], [3, 4]) == [0.0]
    # woken inside the interval and not yet run: queued since, half the interval on average
    assert queued_ns([False, True], [0, 0.01], [0, 0], [0, 0], [3, 3]) == [span / 2]
    # a wait under way over three intervals, counted by the kernel in the fourth: counted once
    q = queued_ns(
        [True] * 5,
        [i / RATE for i in range(5)],
        [0, span // 10, span // 10, span // 10, span // 10 + span // 2],
        [0, 0, 0, 0, int(3.4 * span)],
        [1, 1, 1, 1, 2],
    )
    assert sum(q) == pytest.approx(0.9 * span + span + span + 0.5 * span)
    assert q[-1] == pytest.approx(span / 2)


def test_native_calls_of_any_length_stay_native_when_the_clock_ran() -> None:
    # a hashing thread's 2-tick native calls between GIL waits, the GIL moving
    states = ["gil_wait", "native", "native", "gil_wait", "native", "native", "gil_wait"]
    runnable = [s == "native" for s in states]
    half = TICK_NS // 2
    run = [0, half, 3 * half, 4 * half, 5 * half, 7 * half, 8 * half]
    n = len(states)
    times = [i / RATE for i in range(n)]
    assert (
        resolve_on_cpu(states, runnable, times, run, [0] * n, range(n), range(n), 7, range(n)) == 0
    )
    assert states.count("native") == 4


def test_runnable_without_running_is_starved_never_gil_wait() -> None:
    states = ["gil_wait"] + ["native"] * 4 + ["gil_held"]
    n = len(states)
    times = [i / RATE for i in range(n)]
    run = [0, 0, 0, 0, 0, TICK_NS]
    changed = resolve_on_cpu(states, [True] * n, times, run, [0] * n, [0] * n, range(n), 7, [0] * n)
    assert changed == 4
    assert states == ["gil_wait"] + [STARVED] * 4 + ["gil_held"]


def test_native_ticks_follow_the_cpu_share_of_a_thread_sharing_a_core() -> None:
    # always runnable, on a CPU 40% of the time: 40% of its ticks stay native (to a tick or two)
    n = 500
    states = ["native"] * n
    run = [int(i * 0.4 * TICK_NS) for i in range(n)]
    delay = [int(i * 0.6 * TICK_NS) for i in range(n)]
    times = [i / RATE for i in range(n)]
    resolve_on_cpu(states, [True] * n, times, run, delay, range(n), range(n), 1234, [0] * n)
    assert states.count("native") == pytest.approx(0.4 * n, abs=3)


def test_hashing_beside_python_native_matches_the_clock() -> None:
    # the hasher: 2-tick native calls, then a GIL wait and a short hold; the Python thread
    # holds the GIL the rest of the time. Without clocks the hand-off rule takes the 2-tick
    # calls for GIL waits (0.57 native against a 0.77 clock: docs/measurement.md "GIL
    # hand-offs").
    pattern = {PID: "HHHW", PID + 1: "NNWH"}
    clocked_profile = profile_of(clocked(pattern, 600))
    hasher = thread(clocked_profile, PID + 1)
    assert hasher.cpu_clock_share == pytest.approx(3 / 4, abs=0.01)
    assert hasher.states.native == pytest.approx(2 / 4, abs=0.01)
    assert hasher.states.native + hasher.states.gil_held == pytest.approx(
        hasher.cpu_clock_share, abs=0.01
    )
    assert hasher.clock_disagreement == pytest.approx(0.0, abs=0.01)
    blind = thread(profile_of(clocked(pattern, 600, with_clocks=False)), PID + 1)
    # the old guess, still used without clocks (but the first tick, which has no neighbour)
    assert blind.states.native == pytest.approx(0.0, abs=0.01)
    assert blind.states.gil_wait == pytest.approx(3 / 4, abs=0.01)


def test_starved_time_is_unknown_with_its_own_figure() -> None:
    # a native thread on a CPU half the time, queued for one the other half
    profile = profile_of(clocked({PID: "W", PID + 1: "NQ"}, 400))
    t = thread(profile, PID + 1)
    assert t.states.gil_wait == 0.0
    assert t.states.native == pytest.approx(0.5, abs=0.02)
    assert t.starved_share == pytest.approx(0.5, abs=0.02)
    assert t.states.unknown == pytest.approx(t.starved_share)
    assert t.cpu_clock_share == pytest.approx(0.5, abs=0.01)
    assert profile.summary.starved_s == pytest.approx(0.5 * t.alive_s, abs=0.1)
    assert "waiting for a CPU" in MarkdownRenderer().render(profile)


def test_error_bars_from_the_ticks() -> None:
    # the example: a 34% share over 250 ticks reads "34% ± 6"
    assert share_error(0.34, 250) == pytest.approx(0.06, abs=0.003)
    assert share_error(0.0, 100) == pytest.approx(0.019, abs=0.002)  # never zero
    assert share_error(0.5, 95) > 0.10 > share_error(0.5, 100)
    profile = profile_of(clocked({PID: "HW", PID + 1: "WH"}, 60))
    t = thread(profile, PID)
    assert t.few_samples and t.share_errors is not None
    assert t.share_errors.gil_held == pytest.approx(share_error(0.5, 60))
    assert "± 12" in MarkdownRenderer().render(profile)


def test_clock_check_reports_states_that_claim_more_cpu_than_the_clock() -> None:
    # native in every tick, but the thread's CPU clock moved only every other tick: a state
    # rule (here: no scheduler clocks to correct it) claiming CPU the thread did not get
    rec = clocked({PID: "W", PID + 1: "N"}, 300, with_clocks=False)
    for i, tick in enumerate(rec.ticks):
        obs = [
            dataclasses.replace(o, cpu_ticks=i // 2) if o.tid == PID + 1 else o
            for o in tick.threads
        ]
        rec.ticks[i] = dataclasses.replace(tick, threads=tuple(obs))
    profile = profile_of(rec)
    check = profile.summary.clock_check
    assert check is not None and check.source == "stat"
    assert check.tid == PID + 1
    assert check.largest_disagreement == pytest.approx(0.5, abs=0.02)
    assert check.threads_over == 1
    text = summary_text(profile, [], verbose=True)
    assert "disagree with their own CPU clock" in text
    # the profile carries it, and a saved profile reads it back
    again = Profile.from_dict(profile.to_dict()).summary.clock_check
    assert again is not None and again.threads_over == 1
    assert again.largest_disagreement == pytest.approx(check.largest_disagreement)


def test_clock_check_is_quiet_when_states_agree() -> None:
    profile = profile_of(clocked({PID: "HHW", PID + 1: "WWH"}, 300))
    check = profile.summary.clock_check
    assert check is not None and check.source == "schedstat"
    assert check.threads_checked == 2
    assert check.largest_disagreement < 0.02
    assert check.threads_over == 0
    assert "CPU clock" not in summary_text(profile, [], verbose=True)


def test_analysis_with_clocks_is_the_same_fed_in_chunks() -> None:
    from concdiag.analysis.accounting.streaming import StreamingAccounting

    rec = clocked({PID: "HHWQ", PID + 1: "NNWHQN"}, 300)
    whole = account(rec)
    streamed = StreamingAccounting(rec, start_s=0.0)
    for start in range(0, len(rec.ticks), 7):
        streamed.feed(rec.ticks[start : start + 7])
    assert streamed.finish(rec.freeze()).processes == whole.processes


def test_recording_keeps_the_clocks_and_reads_older_observations() -> None:
    rec = clocked({PID: "HN"}, 5)
    again = Recording.from_dict(rec.freeze().to_dict())
    assert again.ticks == tuple(rec.ticks)
    flagged = dataclasses.replace(rec.ticks[0].threads[0], holds_gil=True, gil_requested=False)
    rec.ticks[0] = dataclasses.replace(rec.ticks[0], threads=(flagged,))
    assert Recording.from_dict(rec.freeze().to_dict()).ticks[0].threads == (flagged,)
    data = rec.freeze().to_dict()
    for tick in data["ticks"]:
        tick[6] = [row[:5] for row in tick[6]]  # a version-2 recording: five fields
    old = Recording.from_dict(data)
    assert all(o.run_ns is None for t in old.ticks for o in t.threads)


def test_gil_held_while_pre_empted_stays_in_the_states_but_not_in_the_work() -> None:
    # a pure-Python thread holding the GIL at every tick, on a CPU only every other one
    rec = clocked({PID: "H"}, 400)
    for i, tick in enumerate(rec.ticks):
        obs = tuple(
            dataclasses.replace(o, run_ns=(i // 2) * TICK_NS, run_delay_ns=(i // 2) * TICK_NS)
            for o in tick.threads
        )
        rec.ticks[i] = dataclasses.replace(tick, threads=obs)
    profile = profile_of(rec)
    t = thread(profile, PID)
    assert t.states.gil_held == 1.0  # it holds the GIL: that is what other threads see
    assert t.cpu_clock_share == pytest.approx(0.5, abs=0.01)
    assert t.pre_empted_share == pytest.approx(0.5, abs=0.01)
    work = profile.summary.worker_seconds
    assert work.gil_held == pytest.approx(0.5 * t.alive_s, abs=0.05)
    assert work.unknown == pytest.approx(0.5 * t.alive_s, abs=0.05)
    assert "held the GIL while pre-empted for about 50%" in summary_text(profile, [], verbose=True)


def test_the_cpu_beside_a_gil_held_tick_is_not_taken_for_native_code() -> None:
    # a pure-Python thread ran holding the GIL, lost it at the tick and waits for a CPU to ask
    # for it again: the CPU before the tick was Python; after it, the thread did not run
    states = ["gil_held", "native", "gil_wait"]
    run = [0, TICK_NS, TICK_NS]
    times = [0.0, 0.01, 0.02]
    assert resolve_on_cpu(
        states, [True, True, False], times, run, [0] * 3, [0] * 3, range(3), 5, [0] * 3
    )
    assert states == ["gil_held", STARVED, "gil_wait"]


def test_a_tick_between_two_gil_held_ticks_keeps_the_hand_off_guess() -> None:
    states = ["gil_held", "native", "gil_held", "native", "gil_held"]
    run = [0, 1, 2, 3, 4]
    switches = [0, 0, 0, 1, 1]  # the GIL changed hands across the second native tick only
    resolve_on_cpu(
        states,
        [True] * 5,
        [i / RATE for i in range(5)],
        run,
        [0] * 5,
        [0] * 5,
        range(5),
        5,
        switches,
    )
    assert states == ["gil_held", "native", "gil_held", "gil_wait", "gil_held"]


def test_a_short_thread_held_pre_empted_is_left_out_of_the_work_too() -> None:
    # 60 ticks: too few for the clock check, not for a 50-point excess over the error bar
    rec = clocked({PID: "H"}, 60)
    for i, tick in enumerate(rec.ticks):
        obs = tuple(dataclasses.replace(o, run_ns=(i // 2) * TICK_NS) for o in tick.threads)
        rec.ticks[i] = dataclasses.replace(tick, threads=obs)
    t = thread(profile_of(rec), PID)
    assert t.few_samples and t.clock_disagreement is None
    assert t.pre_empted_share == pytest.approx(0.5, abs=0.02)


def test_the_report_shows_error_bars_clock_notes_and_few_samples() -> None:
    from concdiag.render.html import HtmlRenderer

    rec = clocked({PID: "H"}, 60)
    for i, tick in enumerate(rec.ticks):
        obs = tuple(dataclasses.replace(o, run_ns=(i // 2) * TICK_NS) for o in tick.threads)
        rec.ticks[i] = dataclasses.replace(tick, threads=obs)
    html = HtmlRenderer().render(profile_of(rec))
    assert 'data-testid="clock-notes"' in html
    assert "held the GIL while pre-empted" in html
    assert "few samples" in html
    assert "100% ± 3" in html  # GIL held, with its error bar
    quiet = HtmlRenderer().render(profile_of(clocked({PID: "HHW", PID + 1: "WWH"}, 300)))
    assert 'data-testid="clock-notes"' not in quiet


def test_a_runnable_thread_requesting_the_gil_is_waiting_for_it_only_while_on_a_cpu() -> None:
    # 3.15's own flag says the thread has requested the GIL; runnable, it is either taking the
    # GIL (on a CPU) or queued for a CPU, which the clocks tell apart (the on-CPU rule:
    # waiting for a CPU is never gil_wait)
    from concdiag.analysis.accounting.tick_clocks import REQUESTED

    n = 400
    times = [i / RATE for i in range(n)]
    ran = [int(i * 0.3 * TICK_NS) for i in range(n)]  # on a CPU 30% of its runnable time
    delay = [int(i * 0.7 * TICK_NS) for i in range(n)]
    states = [REQUESTED] * n
    resolve_on_cpu(states, [True] * n, times, ran, delay, range(n), range(n), 9, [0] * n)
    assert set(states) == {"gil_wait", STARVED}
    assert states.count("gil_wait") == pytest.approx(0.3 * n, abs=4)
    # without the thread's clocks (no schedstat) it counts as waiting for the GIL
    rec = clocked({PID: "H", PID + 1: "N"}, 100, with_clocks=False)
    for i, tick in enumerate(rec.ticks):
        obs = tuple(
            dataclasses.replace(o, holds_gil=o.tid == PID, gil_requested=o.tid != PID)
            for o in tick.threads
        )
        rec.ticks[i] = dataclasses.replace(tick, threads=obs)
    waiting = thread(profile_of(rec), PID + 1)
    assert waiting.states.gil_wait == pytest.approx(1.0)


def test_threads_held_while_pre_empted_share_one_note() -> None:
    """The same cause on several threads is one note, not one near-identical note each."""
    # two threads taking turns on the GIL, on a CPU for half the time they hold it
    rec = clocked({PID: "HW", PID + 1: "WH"}, 400)
    for i, tick in enumerate(rec.ticks):
        obs = tuple(
            dataclasses.replace(o, run_ns=(i // 4) * TICK_NS, run_delay_ns=(i // 4) * TICK_NS)
            for o in tick.threads
        )
        rec.ticks[i] = dataclasses.replace(tick, threads=obs)
    notes = [n for n in clock_notes(profile_of(rec)) if "pre-empted" in n]
    assert len(notes) == 1, notes
    assert notes[0].startswith("2 threads held the GIL while pre-empted for about 25%"), notes
    assert "(t1000, t1001)" in notes[0]
