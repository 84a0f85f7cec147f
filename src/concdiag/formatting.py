"""How a figure or a name is written in words, the same in the verdict's reasons and in every
report: the analysis, the renderers and the gate all import these (a leaf: it imports
nothing of concdiag).
"""

from __future__ import annotations


def pct(share: float | None) -> str:
    """A share as a whole percentage: ``0.342`` is ``34%``; an absent share is ``n/a``."""
    return "n/a" if share is None else f"{100 * share:.0f}%"


def short_name(qualified: str) -> str:
    """The last part of a dotted name: ``Ledger.record`` is ``record``."""
    return qualified.rsplit(".", 1)[-1]
