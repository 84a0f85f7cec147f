"""The report's "Who holds the GIL" view of the profile's ``gil_blame``: a matrix of waiting
threads by holding threads, and the holders' lines ranked by the wait they caused."""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.formatting import place
from concdiag.model import Profile
from concdiag.model.gil_blame import BlamedLine

#: Holder columns in the matrix; the rest are summed into "others". A stated choice: eight
#: columns of seconds fit beside the waiters' names at 800 px.
MATRIX_HOLDERS = 8


@dataclass(frozen=True, slots=True)
class BlameRow:
    waiter: str
    cells: list[float | None]  # seconds waited for each holder column, None for none
    total: float


@dataclass(frozen=True, slots=True)
class BlameView:
    waited_s: float
    attributed_s: float
    holders: list[str]
    rows: list[BlameRow]
    lines: list[BlamedLine]
    multi_process: bool


def where(line: BlamedLine) -> str:
    if line.function is None:
        return ""
    return place(line.file, line.line)


def gil_blame_view(profile: Profile) -> BlameView | None:
    blame = profile.gil_blame
    if blame is None or not blame.pairs:
        return None
    multi = len({p.pid for p in blame.pairs}) > 1

    def label(name: str, tid: int, pid: int) -> str:
        return f"{name} ({'pid ' + str(pid) + ', ' if multi else ''}tid {tid})"

    by_holder: dict[str, float] = {}
    for p in blame.pairs:
        key = label(p.holder, p.holder_tid, p.pid)
        by_holder[key] = by_holder.get(key, 0.0) + p.wait_s
    ranked = sorted(by_holder, key=lambda k: -by_holder[k])
    holders = ranked[:MATRIX_HOLDERS] + (["others"] if len(ranked) > MATRIX_HOLDERS else [])
    rows: dict[str, list[float]] = {}
    for p in blame.pairs:
        waiter = label(p.waiter, p.waiter_tid, p.pid)
        cells = rows.setdefault(waiter, [0.0] * len(holders))
        holder = label(p.holder, p.holder_tid, p.pid)
        column = holders.index(holder) if holder in holders else len(holders) - 1
        cells[column] += p.wait_s
    ordered = sorted(rows.items(), key=lambda item: -sum(item[1]))
    return BlameView(
        waited_s=blame.waited_s,
        attributed_s=blame.attributed_s,
        holders=holders,
        rows=[
            BlameRow(w, [c if c > 0 else None for c in cells], sum(cells)) for w, cells in ordered
        ],
        lines=blame.lines,
        multi_process=multi,
    )
