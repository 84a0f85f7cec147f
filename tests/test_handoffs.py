"""GIL hand-offs: short runnable-without-the-GIL runs between GIL states, as the GIL moves."""

from __future__ import annotations

from concdiag.analysis.accounting.tick_states import resolve_handoffs
from helpers import PID, account, synthetic


def _labels(codes: str) -> list[str]:
    names = {"H": "gil_held", "W": "gil_wait", "N": "native", "I": "io"}
    return [names[c] for c in codes]


def test_short_run_between_gil_states_is_a_wait_when_the_gil_moved() -> None:
    states = _labels("HNWHNNWW")
    switches: list[int | None] = [0, 1, 2, 3, 4, 5, 6, 7]
    assert resolve_handoffs(states, switches) == 3
    assert states == _labels("HWWHWWWW")


def test_native_stays_native_when_the_gil_never_changed_hands() -> None:
    # serial code calling short native functions: the switch counter does not move
    states = _labels("HNHNH")
    assert resolve_handoffs(states, [5, 5, 5, 5, 5]) == 0
    assert states == _labels("HNHNH")


def test_long_native_runs_and_runs_next_to_io_stay_native() -> None:
    states = _labels("WNNNWINW")
    assert resolve_handoffs(states, list(range(8))) == 0
    assert states == _labels("WNNNWINW")


def test_unread_switch_counter_leaves_samples_alone() -> None:
    states = _labels("HNW")
    assert resolve_handoffs(states, [1, None, None]) == 0


def test_accounting_counts_handoffs_as_gil_wait() -> None:
    # two pure-Python threads handing the GIL over, with a runnable tick at each hand-off
    rec = synthetic({PID: ["L"], PID + 1: list("HHNWW"), PID + 2: list("WWNHH")}, ticks=200)
    acc = account(rec)
    workers = [t for p in acc.processes for t in p.threads if t.tid != PID]
    for t in workers:
        assert t.states.native == 0.0
        assert t.states.gil_held == 0.4
        assert t.states.gil_wait == 0.6


def test_runnable_run_without_cpu_continues_the_wait() -> None:
    from concdiag.analysis.accounting.tick_states import resolve_starved

    # woken from a lock wait, then 4 ticks runnable without gaining CPU: still waiting
    states = _labels("IWNNNNH")
    states[1] = "sync"
    assert resolve_starved(states, [0, 0, 0, 0, 0, 0, 1]) == 4
    assert states == ["io", "sync", "sync", "sync", "sync", "sync", "gil_held"]


def test_native_run_that_gets_cpu_stays_native() -> None:
    from concdiag.analysis.accounting.tick_states import resolve_starved

    # a hashing thread on a busy machine: a fair share of CPU (1 tick in 4) is still running
    states = _labels("WNNNNNNNNW")
    cpu = [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert resolve_starved(states, cpu) == 0
    assert states == _labels("WNNNNNNNNW")
