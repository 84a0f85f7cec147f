"""How a figure or a name is written in words, the same in the verdict's reasons and in every
report: the analysis, the renderers and the gate all import these (a leaf: it imports
nothing of concdiag).
"""

from __future__ import annotations

from pathlib import PurePath


def pct(share: float | None) -> str:
    """A share as a whole percentage: ``0.342`` is ``34%``; an absent share is ``n/a``."""
    return "n/a" if share is None else f"{100 * share:.0f}%"


def place(file: str | None, line: int | None) -> str:
    """A line as every output names it: the file's name and the line, ``ledger.py:12``
    (the model names its own lines alike: ``CodeLine.place``)."""
    return f"{PurePath(file or '?').name}:{line}"


def short_name(qualified: str) -> str:
    """The last part of a dotted name: ``Ledger.record`` is ``record``."""
    return qualified.rsplit(".", 1)[-1]


def human_bytes(size: float) -> str:
    """A byte count in the largest unit under 1024 of it: ``9_228_157`` is ``8.8 MiB``."""
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
