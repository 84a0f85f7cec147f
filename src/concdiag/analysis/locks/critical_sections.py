"""Critical sections in the target's source, and what the sampler saw threads do inside them.

A lock is taken at a line; when that line is a ``with`` statement, the block's last line
(from the source, parsed once per file) bounds the critical section, and every sampled stack
with a frame on a line inside the block (after the ``with`` line itself, where a waiter
waits) was inside it. Their thread-seconds by state say whether the section computes or
blocks. Files that cannot be read or parsed give no extent, and no states.
"""

from __future__ import annotations

import ast
import linecache
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

from concdiag.analysis.source import ParsedSource, parsed_source
from concdiag.model import Frame, StackCount

Extent = tuple[str, int, int]  # file, the with line, the block's last line


def source_line(file: str, line: int) -> str:
    """The source text of ``file`` at ``line`` ('' when unavailable)."""
    try:
        return linecache.getline(file, line)
    except (OSError, UnicodeDecodeError, ValueError):
        return ""


@lru_cache(maxsize=64)
def _with_blocks(source: ParsedSource) -> dict[int, int]:
    """The with statement's first line -> its block's last line, for one file."""
    blocks: dict[int, int] = {}
    for node in ast.walk(source.tree):
        if isinstance(node, (ast.With, ast.AsyncWith)) and node.end_lineno is not None:
            blocks.setdefault(node.lineno, node.end_lineno)
            for item in node.items:  # a with statement written over several lines
                blocks.setdefault(item.context_expr.lineno, node.end_lineno)
    return blocks


def block_end(file: str, line: int) -> int | None:
    """The last line of the with block that starts at ``line``, or None."""
    source = parsed_source(file)
    return _with_blocks(source).get(line) if source is not None else None


def states_inside(
    extents: Iterable[Extent],
    frames: Sequence[Frame],
    stacks: Sequence[StackCount],
    rate_hz: float,
) -> dict[Extent, dict[str, float]]:
    """Thread-seconds by state spent inside each extent, in one pass over the stacks."""
    by_file: dict[str, list[Extent]] = defaultdict(list)
    for extent in extents:
        by_file[extent[0]].append(extent)
    inside: dict[int, list[Extent]] = {}
    for index, frame in enumerate(frames):
        for extent in by_file.get(frame.file, ()):
            if extent[1] < frame.line <= extent[2]:
                inside.setdefault(index, []).append(extent)
    result: dict[Extent, dict[str, float]] = {}
    if not inside:
        return result
    tick_s = 1.0 / rate_hz
    for stack in stacks:
        seen: set[Extent] = set()
        for index in stack.frames:
            seen.update(inside.get(index, ()))
        for extent in seen:
            states = result.setdefault(extent, {})
            states[stack.state] = states.get(stack.state, 0.0) + stack.count * tick_s
    return result
