"""The bench's stack checks: a stack pasted onto itself counts, a nested import does not."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.realprograms.programs import relaunched_stacks

FRAMES = [
    {"function": "<module>", "file": "/app/main.py", "line": 1},
    {"function": "EpollSelector.select", "file": "/usr/lib/python3.11/selectors.py", "line": 468},
    {"function": "_find_and_load", "file": "<frozen importlib._bootstrap>", "line": 1176},
    {"function": "<module>", "file": "/app/mod.py", "line": 3},
    {"function": "_walk_dir", "file": "/usr/lib/python3.11/compileall.py", "line": 45},
]


def _profile(*stacks: list[int]) -> dict[str, object]:
    return {"frames": FRAMES, "stacks": [{"frames": s} for s in stacks]}


def test_a_stack_pasted_onto_itself_counts() -> None:
    assert relaunched_stacks(_profile([0, 1, 0, 1], [0, 1])) == 1


def test_nested_imports_do_not_count() -> None:
    assert relaunched_stacks(_profile([2, 3, 2, 3], [2])) == 0


def test_recursion_in_a_stack_cut_short_at_the_top_does_not_count() -> None:
    # compileall's _walk_dir recursing into subfolders, the stack starting at it
    assert relaunched_stacks(_profile([4, 4, 4])) == 0
