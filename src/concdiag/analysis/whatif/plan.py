"""Which alternatives `concdiag whatif` runs, from the pools the program created.

Pure: the pools seen in the first run (`SwapReport`) and the machine's cores give the list of
`Variant`s to time, and the verdict's predicted curve gives what each was predicted to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from concdiag.model import SpeedupPoint
from concdiag.recording.whatif import PoolSeen

#: What each pool family stands for, in the recommendation's words.
FAMILY_MODELS = {"threads": "threading", "processes": "multiprocessing"}


@dataclass(frozen=True, slots=True)
class Variant:
    """One way to run the program: its pools as ``kind``, with ``workers`` each."""

    kind: str  # as_written, serial, threads, processes, interpreters
    workers: int | None  # None: as each pool asked
    label: str
    model: str  # serial, threading, multiprocessing, interpreters, mixed
    as_written: bool
    effective_workers: int  # the number of workers that decides the model and prediction
    family: str  # serial, threads, processes, interpreters, mixed: the pools in this run


def _plural(n: int) -> str:
    return f"{n} worker" + ("" if n == 1 else "s")


def _model(family: str, workers: int) -> str:
    if workers == 1:
        return "serial"
    return FAMILY_MODELS.get(family, family)


def plan(
    pools: list[PoolSeen],
    cores: int,
    interpreters: bool,
    sweep: bool,
    serial: bool | None = None,
    counts: tuple[int, ...] = (),
) -> list[Variant]:
    """The program as written first, then each alternative that can be swapped in.

    With ``sweep``: also serial (each task run inline where it is submitted: the baseline)
    and one worker per core, of the kind as written and of the other kind; without it, only
    the number the program asked for. ``serial`` (default: ``sweep``) adds the serial
    baseline on its own.
    """
    swappable = [p for p in pools if p.swappable]
    if not swappable:
        return []
    families = sorted({p.family for p in swappable})
    written = families[0] if len(families) == 1 else "mixed"
    asked = max(p.asked_workers for p in swappable)
    with_serial = sweep if serial is None else serial
    if counts:
        return _counted_variants(written, families, swappable, interpreters, asked, counts)
    variants = _written_variants(written, asked, cores, sweep, with_serial)
    for kind in _other_kinds(families, swappable, interpreters):
        variants += _kind_variants(kind, asked, cores, sweep)
    return variants


def _counted_variants(
    written: str,
    families: list[str],
    swappable: list[PoolSeen],
    interpreters: bool,
    asked: int,
    counts: tuple[int, ...],
) -> list[Variant]:
    """A scaling curve: as written, the serial baseline, then each kind at each count."""
    variants = [_as_written(written, asked), SERIAL_BASELINE]
    kinds = [] if written == "mixed" else [written]
    kinds += _other_kinds(families, swappable, interpreters)
    for kind in kinds:
        for n in sorted(set(counts)):
            if n <= 1 or (kind == written and n == asked):
                continue
            variants.append(
                Variant(kind, n, f"{kind}, {_plural(n)}", _model(kind, n), False, n, kind)
            )
    return variants


#: Every task run inline where it is submitted: what a speedup is measured against.
SERIAL_BASELINE = Variant(
    "serial", None, "serial: tasks run inline (the baseline)", "serial", False, 1, "serial"
)


def _as_written(written: str, asked: int) -> Variant:
    shown = "thread and process pools" if written == "mixed" else written
    return Variant(
        "as_written",
        None,
        f"as written: {shown}, {_plural(asked)}",
        _model(written, asked),
        True,
        asked,
        written,
    )


def _written_variants(
    written: str, asked: int, cores: int, sweep: bool, with_serial: bool
) -> list[Variant]:
    """The program as written; the serial baseline; its own kind with one worker per core."""
    shown = "thread and process pools" if written == "mixed" else written
    variants = [_as_written(written, asked)]
    if with_serial and asked != 1:
        variants.append(SERIAL_BASELINE)
    if sweep and cores not in (1, asked):
        variants.append(
            Variant(
                "as_written",
                cores,
                f"{shown}, {_plural(cores)} (one per core)",
                _model(written, cores),
                False,
                cores,
                written,
            )
        )
    return variants


def _other_kinds(families: list[str], swappable: list[PoolSeen], interpreters: bool) -> list[str]:
    """The pool kinds to swap in: those the program did not use alone, and interpreters
    when the interpreter has them and an executor can be swapped for them."""
    kinds = [f for f in ("threads", "processes") if families != [f]]
    if interpreters and any(p.kind.endswith("_executor") for p in swappable):
        kinds.append("interpreters")
    return kinds


def _kind_variants(kind: str, asked: int, cores: int, sweep: bool) -> list[Variant]:
    """One kind swapped in with the workers asked; with ``sweep``, one per core too."""
    variants = [
        Variant(
            kind,
            None,
            f"{kind}, {_plural(asked)} (as asked)",
            _model(kind, asked),
            False,
            asked,
            kind,
        )
    ]
    if sweep and cores not in (1, asked):
        variants.append(
            Variant(
                kind,
                cores,
                f"{kind}, {_plural(cores)} (one per core)",
                _model(kind, cores),
                False,
                cores,
                kind,
            )
        )
    return variants


def predicted(points: list[SpeedupPoint], family: str, workers: int) -> float | None:
    """The verdict's predicted speedup (over one worker) for ``workers`` of ``family``.

    The curve stops at its last point (MAX_WORKERS); more workers read its last value.
    Interpreter pools and mixed programs have no curve.
    """
    if workers <= 1:
        return 1.0
    if family not in FAMILY_MODELS or not points:
        return None
    point = min(points, key=lambda p: (abs(p.workers - workers), -p.workers))
    return point.threads if family == "threads" else point.processes


def predicted_against(
    points: list[SpeedupPoint], variant: Variant, written: Variant
) -> float | None:
    """How much faster than as written the verdict predicted ``variant`` to be."""
    mine = predicted(points, variant.family, variant.effective_workers)
    theirs = predicted(points, written.family, written.effective_workers)
    if mine is None or theirs is None or theirs <= 0:
        return None
    return mine / theirs
