"""Counters over the sampled window: what ran before the first pass is not the window's."""

from __future__ import annotations

from concdiag.collectors.cpu_window import CounterWindow


def test_present_at_the_first_pass_counts_from_there_later_ones_from_zero() -> None:
    window = CounterWindow()
    window.note("old thread", 500, 20)  # ran for a while before sampling began
    assert window.since_start("old process", 40.0, 2.0, 1000, 7) == (0.0, 0.0, 0, 0)
    window.first_pass = False
    window.note("new thread", 3, 1)  # too late to be a starting point
    assert window.since_start("old thread", 530, 25) == (30, 5)
    assert window.since_start("old process", 41.5, 2.25, 1010, 7) == (1.5, 0.25, 10, 0)
    assert window.since_start("new thread", 9, 2) == (9, 2)  # started inside the window
