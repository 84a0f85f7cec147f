"""Parsing of /proc files, on recorded text and on this very process."""

from __future__ import annotations

import os

from concdiag.collectors.gil_layout import GIL_STATE_SPAN
from concdiag.collectors.proc_files import parse_stat, parse_syscall


def test_parse_stat_handles_spaces_and_parens_in_the_name() -> None:
    line = "1234 (evil) name (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 57 12 0 0 20 0 3 0"
    assert parse_stat(line) == ("S", 57, 12)


def test_parse_stat_of_this_process() -> None:
    with open(f"/proc/{os.getpid()}/stat") as f:
        state, utime, stime = parse_stat(f.read())
    assert state == "R"
    assert utime >= 0 and stime >= 0


def test_parse_syscall_futex_on_the_gil() -> None:
    gil = 0x7F0000001000
    inside = f"202 {hex(gil + 72)} 0x189 0x0 0x0 0x0 0x0 0x7ffd 0x7f00"
    outside = f"202 {hex(gil + GIL_STATE_SPAN + 8)} 0x189 0x0 0x0 0x0 0x0 0x7ffd 0x7f00"
    assert parse_syscall(inside, gil) == (202, True)
    assert parse_syscall(outside, gil) == (202, False)
    assert parse_syscall(inside, None) == (202, False)


def test_parse_syscall_running_and_not_in_a_syscall() -> None:
    assert parse_syscall("running", 1) == (None, False)
    assert parse_syscall("-1 0x7ffd 0x7f00", 1) == (None, False)
    assert parse_syscall("230 0x1 0x0 0x7ffd 0x0 0x0 0x0 0x7ffd 0x7f00", 1) == (230, False)
