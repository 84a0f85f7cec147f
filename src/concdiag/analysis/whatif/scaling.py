"""The scaling curve: each pool kind's measured speedup over the serial run, by workers,
fitted with Amdahl's law and the Universal Scalability Law and carried past the machine's
cores as a labelled prediction.

Pure: the measured alternatives (with how many workers each ran) in, the curves out.
"""

from __future__ import annotations

from collections.abc import Sequence

from concdiag.analysis.whatif.plan import FAMILY_MODELS, Variant
from concdiag.model.whatif import Alternative, ScalingCurve, ScalingPoint

#: How far past the machine's cores the curve is carried: these multiples of the cores, up to
#: `PREDICT_MAX_WORKERS`. A stated choice: the next machine sizes a user would ask about.
PREDICT_MULTIPLES = (2, 4, 8, 16)
PREDICT_MAX_WORKERS = 64
#: A curve "keeps gaining past the machine" when its serial share is at most this (even at the
#: top of its range) and the next predicted size's low end beats the last measured speedup by
#: `SCALES_GAIN`: stated choices, a tenth of serial time caps Amdahl's speedup at 10x, and a
#: gain under a fifth is within what one run to the next varies here.
SCALES_SHARE = 0.1
SCALES_GAIN = 1.2


def scaling_curves(
    measured: Sequence[tuple[Variant, Alternative]], cores: int
) -> list[ScalingCurve]:
    """A curve per pool kind that ran at more than one worker beside the serial baseline."""
    serial = next(
        (a for v, a in measured if v.family == "serial" and a.status == "ok" and a.wall), None
    )
    if serial is None or serial.wall is None:
        return []
    curves = []
    for family, model in FAMILY_MODELS.items():
        points = {
            v.effective_workers: a
            for v, a in measured
            if v.family == family and v.effective_workers > 1 and a.status == "ok" and a.wall
        }
        if points:
            curves.append(_curve(family, model, serial, points, cores))
    return curves


def _curve(
    family: str, model: str, serial: Alternative, points: dict[int, Alternative], cores: int
) -> ScalingCurve:
    assert serial.wall is not None
    t1 = serial.wall
    measured = [ScalingPoint(1, 1.0, 1.0, 1.0)]
    for n, alt in sorted(points.items()):
        assert alt.wall is not None
        w = alt.wall
        measured.append(
            ScalingPoint(
                n,
                round(t1.median_s / w.median_s, 4),
                round(t1.low_s / w.high_s, 4),
                round(t1.high_s / w.low_s, 4),
            )
        )
    beyond = [p for p in measured if p.workers > 1]
    share = _mean([amdahl_share(p.workers, p.speedup) for p in beyond])
    low = min(amdahl_share(p.workers, p.high) for p in beyond)
    high = max(amdahl_share(p.workers, p.low) for p in beyond)
    sigma, kappa = usl_fit(beyond)
    # the band: the contention term the runs' spread allows, with the coherence term held
    coherence = max(0.0, kappa or 0.0)
    sigmas = [contention(p.workers, s, coherence) for p in beyond for s in (p.low, p.high)]
    top = max(p.workers for p in measured)
    counts = sorted(
        {min(PREDICT_MAX_WORKERS, m * cores) for m in PREDICT_MULTIPLES} - set(range(top + 1))
    )
    fitted = max(0.0, sigma)
    predicted = [
        ScalingPoint(
            n,
            round(usl(n, fitted, coherence), 4),
            round(usl(n, max(sigmas), coherence), 4),
            round(usl(n, min(sigmas), coherence), 4),
        )
        for n in counts
    ]
    return ScalingCurve(
        family=family,
        model=model,
        measured=measured,
        serial_share=round(share, 4),
        serial_share_low=round(low, 4),
        serial_share_high=round(high, 4),
        usl_sigma=round(sigma, 4),
        usl_kappa=None if kappa is None else round(kappa, 5),
        predicted=predicted,
        note=_note(kappa, top, cores, measured[-1], predicted, high),
    )


def usl(n: int, sigma: float, kappa: float) -> float:
    """The Universal Scalability Law's speedup at ``n`` workers (Amdahl's when kappa is 0
    and sigma at most 1; sigma above 1 is a slowdown that grows with workers)."""
    return n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def contention(n: int, speedup: float, kappa: float) -> float:
    """The USL's sigma that gives ``speedup`` at ``n`` workers with ``kappa`` held."""
    return max(0.0, (n / max(speedup, 1e-9) - 1.0 - kappa * n * (n - 1.0)) / (n - 1.0))


def amdahl_share(n: int, speedup: float) -> float:
    """The serial share s that makes Amdahl's law give ``speedup`` at ``n`` workers, in [0, 1]
    (a speedup past ``n``, superlinear, reads as 0; one under 1 as 1)."""
    if speedup <= 0:
        return 1.0
    return min(1.0, max(0.0, (n / speedup - 1.0) / (n - 1.0)))


def usl_fit(points: Sequence[ScalingPoint]) -> tuple[float, float | None]:
    """sigma and kappa by least squares on N/S - 1 = sigma (N - 1) + kappa N (N - 1); with one
    worker count beyond 1 only sigma can be told (kappa None, sigma equals Amdahl's share)."""
    rows = [
        (p.workers - 1.0, p.workers * (p.workers - 1.0), p.workers / p.speedup - 1.0)
        for p in points
    ]
    if len({r[0] for r in rows}) < 2:
        a, _, y = rows[0]
        return max(0.0, y / a), None
    saa = sum(a * a for a, _, _ in rows)
    sab = sum(a * b for a, b, _ in rows)
    sbb = sum(b * b for _, b, _ in rows)
    say = sum(a * y for a, _, y in rows)
    sby = sum(b * y for _, b, y in rows)
    det = saa * sbb - sab * sab
    if det == 0:
        return max(0.0, say / saa), None
    sigma = (say * sbb - sby * sab) / det
    kappa = (saa * sby - sab * say) / det
    return sigma, kappa


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _note(
    kappa: float | None,
    top: int,
    cores: int,
    last: ScalingPoint,
    predicted: Sequence[ScalingPoint],
    share_high: float,
) -> str:
    parts = [f"Measured up to {top} worker{'s' if top != 1 else ''} on {cores} cores"]
    if kappa is None:
        parts.append("two worker counts cannot tell the USL's coherence term from contention")
    parts.append(f"beyond {max(top, cores)} workers the curve is a prediction, not a measurement")
    note = "; ".join(parts) + "."
    if last.high < 1.0:
        return note + " More workers made it slower here; the fit carries that on."
    ahead = predicted[0] if predicted else None
    if ahead is not None and share_high <= SCALES_SHARE and ahead.low >= SCALES_GAIN * last.speedup:
        note += (
            f" Its serial share, at most {share_high:.0%}, leaves room past this machine: "
            f"{ahead.speedup:.1f}x ({ahead.low:.1f}-{ahead.high:.1f}x) predicted at "
            f"{ahead.workers} workers, if the tasks outweigh what a scheduler costs each."
        )
    return note
