"""The catalogue of gate rules: one id, name and help text each, described in the SARIF output."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: str
    name: str
    short: str
    help: str


RULES: tuple[RuleInfo, ...] = (
    RuleInfo(
        "model-contradiction",
        "ModelContradiction",
        "The measured verdict contradicts the concurrency model in use.",
        "Threads that carry CPU work holding the GIL cannot run it in parallel: use processes. "
        "Processes that wait on I/O pay start-up and pickling for nothing: use threads. "
        "Configured by fail_on_mismatch and min_confidence in [tool.concdiag].",
    ),
    RuleInfo(
        "model-mismatch",
        "ModelMismatch",
        "The concurrency model in use differs from the recommendation.",
        'fail_on_mismatch = "any": any model other than the recommended one fails.',
    ),
    RuleInfo(
        "expected-recommendation",
        "ExpectedRecommendation",
        "The recommendation differs from the one the policy expects for this target.",
        'Set by expect = "threading" | "multiprocessing" | "serial" on a target.',
    ),
    RuleInfo(
        "gil-wait-share",
        "GilWaitShare",
        "Threads spend too much of their time waiting for the GIL.",
        "max_gil_wait_share: the largest share of worker time spent waiting for the GIL.",
    ),
    RuleInfo(
        "wall-time-regression",
        "WallTimeRegression",
        "The target got slower than the baseline.",
        "diff.max_wall_increase (relative) and diff.min_time_change_s, plus the noise margin.",
    ),
    RuleInfo(
        "cpu-time-regression",
        "CpuTimeRegression",
        "The target uses more CPU time than the baseline.",
        "diff.max_cpu_increase (relative) and diff.min_time_change_s, plus the noise margin.",
    ),
    RuleInfo(
        "gil-wait-regression",
        "GilWaitRegression",
        "GIL contention got worse than the baseline.",
        "diff.max_gil_wait_share_increase (share points), plus the noise margin.",
    ),
    RuleInfo(
        "new-mismatch",
        "NewMismatch",
        "The verdict now contradicts the model in use; it did not on the baseline.",
        "diff.fail_on_new_mismatch.",
    ),
    RuleInfo(
        "verdict-changed",
        "VerdictChanged",
        "The verdict differs from the baseline.",
        "Information only.",
    ),
    RuleInfo(
        "advice",
        "Advice",
        "The measurements recommend another concurrency model (not a failure).",
        'Information only; fail_on_mismatch = "any" makes it a failure.',
    ),
    RuleInfo(
        "target-failed",
        "TargetFailed",
        "The target exited with an error or was killed by a signal.",
        "The report is still written; concdiag check exits 4.",
    ),
    RuleInfo(
        "not-profiled",
        "NotProfiled",
        "The target could not be profiled.",
        "Tracing not permitted or a sampler missing; concdiag exits 3.",
    ),
    RuleInfo(
        "unpaired-target",
        "UnpairedTarget",
        "A target is in only one of the two compared results.",
        "Information only.",
    ),
)

RULE_BY_ID = {r.id: r for r in RULES}
