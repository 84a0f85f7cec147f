"""The result of `check` and `diff`: one small model every CI output is rendered from.

Markdown, annotations, SARIF, JUnit and the JSON result are peers rendered from one
`GateResult`, so they always agree. A saved result can be read back
(`GateResult.from_dict`): `concdiag diff` compares two of them, target by target, with the
spread of repeated runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from concdiag.errors import ProfileFormatError
from concdiag.migrations import result_from_v1
from concdiag.model import JsonScalar, from_jsonable, to_jsonable

RESULT_SCHEMA = "concdiag-gate-result"
RESULT_VERSION = 2  # 2: current models in the recommendation's words (threading, ...)

#: Outcomes of one check. Only "failed" fails the gate; "warning" would have failed but the
#: evidence was too weak (low confidence, inside the noise margin); "advice" is information.
OUTCOMES = ("passed", "failed", "warning", "advice")


@dataclass(frozen=True, slots=True)
class Spread:
    """One figure over repeated runs: the median, the range, and the noise margin used.

    ``margin`` is half the range across runs, and at least the sampling error of a share
    (`concdiag.analysis.accounting.clock_figures.share_error`): differences smaller than
    the margins are treated as noise.
    """

    median: float
    low: float
    high: float
    margin: float
    runs: int


@dataclass(frozen=True, slots=True)
class Site:
    """A line that creates a thread, pool or process; ``file`` relative to the root if under it."""

    file: str
    line: int
    kind: str
    code: str


@dataclass(frozen=True, slots=True)
class ThreadShares:
    name: str
    role: str
    shares: dict[str, float]  # state key -> median share of the thread's alive time


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What `concdiag whatif` measured: the program as written against the best alternative
    of the recommended model (`check --confirm`)."""

    outcome: str  # the profile's whatif outcome: confirmed, refuted, inconclusive, ...
    message: str
    as_written_s: float | None  # median wall seconds
    as_written_margin_s: float | None
    alternative: str | None  # the alternative's label
    alternative_s: float | None
    alternative_margin_s: float | None


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one target's runs showed: the verdict they agree on and each figure's spread."""

    runs: int
    bound: str
    cpu_kind: str | None
    recommendation: str
    agreement: int  # runs whose recommendation is ``recommendation``
    confidence: float  # median confidence of those runs, times agreement / runs
    current_model: str  # one of concdiag.model.CURRENT_MODELS
    matches: bool | None
    summary: str
    advice: str
    sites: list[Site]
    figures: dict[str, Spread]  # wall_s, cpu_s, gil_wait_share, gil_utilisation, ...
    worker_shares: dict[str, Spread]  # state key -> share of worker time
    threads: list[ThreadShares]
    target_exit: str  # the target's exit description (of the first run that failed, if any)
    confirmation: Confirmation | None = None  # measured alternatives, when there were any


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule applied to one target, with the figures it compared and where to look."""

    rule: str
    outcome: str  # one of OUTCOMES
    target: str
    message: str
    figures: dict[str, JsonScalar] = field(default_factory=dict)
    sites: list[Site] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Change:
    """One figure compared between BASE and HEAD by `diff`."""

    figure: str
    base: float | None
    head: float | None
    limit: float | None  # how much worse HEAD may be, in the figure's unit (None: shown only)
    margin: float  # noise margin added to the limit
    regressed: bool


@dataclass(frozen=True, slots=True)
class TargetResult:
    name: str
    command: list[str]
    script: str | None  # the target script, relative to the root when under it
    profiles: list[str]  # JSON profiles the result was computed from
    reports: list[str]  # HTML reports
    status: str  # passed, failed, not_profiled, target_failed
    measurement: Measurement | None
    findings: list[Finding]
    baseline: Measurement | None = None
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GateResult:
    command: str  # check or diff
    passed: bool
    exit_code: int
    policy_source: str
    margins: str  # how noise margins were derived, stated in every output
    targets: list[TargetResult]
    schema: str = RESULT_SCHEMA
    schema_version: int = RESULT_VERSION

    def findings(self) -> list[Finding]:
        return [f for t in self.targets for f in t.findings]

    def to_json(self) -> str:
        data = to_jsonable(self)
        return json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"

    @staticmethod
    def from_dict(data: Any) -> GateResult:
        if not isinstance(data, dict) or data.get("schema") != RESULT_SCHEMA:
            raise ProfileFormatError("not a concdiag result")
        if data.get("schema_version") == 1:
            data = result_from_v1(data)
        elif data.get("schema_version") != RESULT_VERSION:
            raise ProfileFormatError(
                f"result schema version {data.get('schema_version')!r} is not supported"
            )
        try:
            result = from_jsonable(GateResult, data, "result")
        except (TypeError, ValueError, KeyError) as exc:
            raise ProfileFormatError(f"malformed result: {exc}") from exc
        return result
