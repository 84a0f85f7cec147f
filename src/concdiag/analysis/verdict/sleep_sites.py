"""Whether a program's sleeps pace it or stand for waiting inside each item's work.

A sleep written in a loop of its own function (``for page in pages: fetch(page);
time.sleep(1)``, ``while not done(): time.sleep(0.1)``) paces the loop: rate limiting,
polling, a retry's back-off. Running items at once does not shorten it, and a program that
mostly does that is idle. A sleep in a function that is not looping itself (``def
call_api(...): time.sleep(0.08); return reply``) is part of a call made per item, as a
remote round trip's latency is: threads overlap such waits. The kernel says only that the
thread slept; the line it slept at, read from the program's source, says which.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from concdiag.analysis.source import ParsedSource, parsed_source

#: (function, file, line) of the Python frame that called sleep, as the stacks name it.
Site = tuple[str, str, int]
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


#: A line must be seen asleep in at least this many separate sleeps (the thread woken between
#: samples) to stand for each item's wait: a stated choice, a few items, so one long sleep
#: (``time.sleep(30)`` waiting for something) is not read as a call made per item.
MIN_SLEEPS = 3


def in_calls_s(sites: Mapping[Site, float], wakes: Mapping[Site, int]) -> tuple[float, Site | None]:
    """Seconds slept at lines outside any loop of their own function (in a function, slept
    in at least `MIN_SLEEPS` separate times), and the busiest such line. A line whose source
    cannot be read counts as pacing."""
    seconds = 0.0
    busiest: tuple[float, Site | None] = (0.0, None)
    for site, slept in sites.items():
        if site[0] == "<module>" or wakes.get(site, 0) < MIN_SLEEPS:
            continue
        source = parsed_source(site[1])
        if source is None or line_in_loop(source, site[2]):
            continue
        seconds += slept
        busiest = max(busiest, (slept, site), key=lambda b: b[0])
    return seconds, busiest[1]


def line_in_loop(source: ParsedSource, line: int) -> bool:
    """Whether ``line`` sits in the body of a loop of the innermost function (or module)
    that holds it; a loop around a nested function's definition does not count."""
    return _loop_around(source.tree, line, in_loop=False)


def _loop_around(node: ast.AST, line: int, in_loop: bool) -> bool:
    for child in ast.iter_child_nodes(node):
        start = getattr(child, "lineno", None)
        end = getattr(child, "end_lineno", None)
        if start is None or end is None or not start <= line <= end:
            continue
        if isinstance(child, _SCOPES):
            return _loop_around(child, line, in_loop=False)
        if isinstance(child, _LOOPS):
            body_start = child.body[0].lineno if child.body else end + 1
            return _loop_around(child, line, in_loop=in_loop or line >= body_start)
        return _loop_around(child, line, in_loop)
    return in_loop
