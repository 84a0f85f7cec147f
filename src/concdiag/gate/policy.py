"""The policy `concdiag check` and `concdiag diff` gate on, read from ``[tool.concdiag]``.

A policy is plain data: which verdicts fail, which figures have limits, which targets to
profile. It is read from the nearest ``pyproject.toml`` (or a file given with ``--policy``)
and validated strictly: an unknown key or a bad value is a configuration error (exit 2)
that names the key, because a misspelt limit that is silently ignored would let every
pull request pass.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from concdiag.errors import UsageError
from concdiag.model import RECOMMENDATIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: fail_on_mismatch values: fail only when the verdict contradicts the model in use, on
#: any model that differs from the recommendation, or never.
MISMATCH_MODES = ("contradiction", "any", "never")


class ConfigError(UsageError):
    """A policy file that cannot be used as written (exit 2)."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The checks applied to one target; the top level sets defaults, a target overrides."""

    fail_on_mismatch: str = "contradiction"
    min_confidence: float = 0.6
    max_gil_wait_share: float | None = None
    expect: str | None = None  # expected recommendation; only per target
    #: Fail a model mismatch only when `concdiag whatif` measured the recommended model
    #: faster than the program as written by more than ``confirm_margin`` (relative) and the
    #: spread of both (`check --confirm`).
    confirm: bool = False
    confirm_margin: float = 0.10


@dataclass(frozen=True, slots=True)
class DiffLimits:
    """How much worse HEAD may be than BASE before `diff` fails (beyond the noise margin)."""

    max_wall_increase: float = 0.25  # relative: 0.25 = 25% slower
    max_cpu_increase: float = 0.25
    max_gil_wait_share_increase: float = 0.10  # absolute, in share points
    min_time_change_s: float = 0.05  # smaller absolute time changes never count
    fail_on_new_mismatch: bool = True


@dataclass(frozen=True, slots=True)
class Target:
    """A script or module to profile, with its arguments, time limit and rules."""

    name: str
    script: str | None
    module: str | None
    args: tuple[str, ...]
    time_limit_s: float | None
    python: str | None
    repeat: int
    rules: Rules


@dataclass(frozen=True, slots=True)
class Policy:
    rules: Rules = field(default_factory=Rules)
    diff: DiffLimits = field(default_factory=DiffLimits)
    targets: tuple[Target, ...] = ()
    repeat: int = 1
    rate_hz: float = 100.0
    time_limit_s: float | None = None
    python: str | None = None
    reports_dir: str = "reports"
    source: str = "defaults"  # where the policy came from, for the output
    project_dir: Path = field(default_factory=Path)


_RULE_KEYS = (
    "fail_on_mismatch",
    "min_confidence",
    "max_gil_wait_share",
    "confirm",
    "confirm_margin",
)
_TOP_KEYS = (
    *_RULE_KEYS,
    "repeat",
    "rate_hz",
    "time_limit_s",
    "python",
    "reports_dir",
    "diff",
    "targets",
)
_TARGET_KEYS = (
    "name",
    "script",
    "module",
    "args",
    "time_limit_s",
    "python",
    "repeat",
    "expect",
    *_RULE_KEYS,
)
_DIFF_KEYS = (
    "max_wall_increase",
    "max_cpu_increase",
    "max_gil_wait_share_increase",
    "min_time_change_s",
    "fail_on_new_mismatch",
)


class _Reader:
    """Typed access to one TOML table, with errors that name the file, table and key."""

    def __init__(self, table: Any, where: str, known: tuple[str, ...]) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(known)})"
            )
        self.table = table
        self.where = where

    def _bad(self, key: str, wanted: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key} must be {wanted}, got {self.table[key]!r}")

    def number(
        self, key: str, default: float | None, low: float, high: float | None = None
    ) -> float | None:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._bad(key, "a number")
        if value < low or (high is not None and value > high):
            span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise self._bad(key, f"a number {span}")
        return float(value)

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._bad(key, f"a whole number from {low} to {high}")
        return value

    def string(self, key: str, default: str | None, choices: tuple[str, ...] = ()) -> str | None:
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, str) or not value or (choices and value not in choices):
            raise self._bad(key, "one of " + ", ".join(map(repr, choices)) if choices else "text")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(key, "a list of strings")
        return tuple(value)

    def mismatch(self, default: str) -> str:
        if "fail_on_mismatch" not in self.table:
            return default
        value = self.table["fail_on_mismatch"]
        if value is True:
            return "any"
        if value is False:
            return "never"
        if value not in MISMATCH_MODES:
            raise self._bad(
                "fail_on_mismatch", "true, false or one of " + ", ".join(map(repr, MISMATCH_MODES))
            )
        return str(value)

    def rules(self, base: Rules) -> Rules:
        confidence = self.number("min_confidence", base.min_confidence, 0.0, 1.0)
        return replace(
            base,
            fail_on_mismatch=self.mismatch(base.fail_on_mismatch),
            min_confidence=base.min_confidence if confidence is None else confidence,
            max_gil_wait_share=self.number("max_gil_wait_share", base.max_gil_wait_share, 0, 1),
            confirm=self.boolean("confirm", base.confirm),
            confirm_margin=_req(self.number("confirm_margin", base.confirm_margin, 0, 10)),
        )


def parse_policy(data: Any, where: str, project_dir: Path) -> Policy:
    """Validate a ``[tool.concdiag]`` table (already parsed from TOML) into a `Policy`."""
    top = _Reader(data, where, _TOP_KEYS)
    rules = top.rules(Rules())
    diff_table = _Reader(data.get("diff", {}), f"{where}.diff", _DIFF_KEYS)
    defaults = DiffLimits()
    diff = DiffLimits(
        max_wall_increase=_req(
            diff_table.number("max_wall_increase", defaults.max_wall_increase, 0)
        ),
        max_cpu_increase=_req(diff_table.number("max_cpu_increase", defaults.max_cpu_increase, 0)),
        max_gil_wait_share_increase=_req(
            diff_table.number(
                "max_gil_wait_share_increase", defaults.max_gil_wait_share_increase, 0, 1
            )
        ),
        min_time_change_s=_req(
            diff_table.number("min_time_change_s", defaults.min_time_change_s, 0)
        ),
        fail_on_new_mismatch=diff_table.boolean(
            "fail_on_new_mismatch", defaults.fail_on_new_mismatch
        ),
    )
    repeat = top.integer("repeat", 1, 1, 50)
    time_limit = top.number("time_limit_s", None, 0.1)
    python = top.string("python", None)
    raw_targets = data.get("targets", [])
    if not isinstance(raw_targets, list):
        raise ConfigError(f"{where}.targets must be an array of tables ([[{where}.targets]])")
    targets: list[Target] = []
    for index, raw in enumerate(raw_targets):
        targets.append(_target(raw, f"{where}.targets[{index}]", rules, repeat, time_limit, python))
    names = [t.name for t in targets]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ConfigError(f"{where}.targets: two targets are named {duplicate!r}; set name")
    return Policy(
        rules=rules,
        diff=diff,
        targets=tuple(targets),
        repeat=repeat,
        rate_hz=_req(top.number("rate_hz", 100.0, 1, 1000)),
        time_limit_s=time_limit,
        python=python,
        reports_dir=top.string("reports_dir", "reports") or "reports",
        source=where,
        project_dir=project_dir,
    )


def _req(value: float | None) -> float:
    assert value is not None  # a default was given
    return value


def _target(
    raw: Any, where: str, rules: Rules, repeat: int, time_limit: float | None, python: str | None
) -> Target:
    table = _Reader(raw, where, _TARGET_KEYS)
    script = table.string("script", None)
    module = table.string("module", None)
    if (script is None) == (module is None):
        raise ConfigError(f"{where}: give exactly one of script or module")
    default_name = Path(script).stem if script else str(module)
    target_rules = replace(table.rules(rules), expect=table.string("expect", None, RECOMMENDATIONS))
    return Target(
        name=table.string("name", default_name) or default_name,
        script=script,
        module=module,
        args=table.strings("args"),
        time_limit_s=table.number("time_limit_s", time_limit, 0.1),
        python=table.string("python", python),
        repeat=table.integer("repeat", repeat, 1, 50),
        rules=target_rules,
    )


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in ``start`` or its parents, like pytest and ruff look."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except OSError as exc:
        raise ConfigError(f"cannot read policy {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load_policy(policy_file: Path | None, cwd: Path) -> Policy:
    """The policy from ``--policy FILE``, else the nearest pyproject.toml, else defaults.

    A ``--policy`` file may be a pyproject.toml (its ``[tool.concdiag]`` table is read) or
    a file holding the same keys at its top level.
    """
    if policy_file is not None:
        data = _read_toml(policy_file)
        project_dir = policy_file.resolve().parent
        if "tool" in data:
            table = data["tool"].get("concdiag", {}) if isinstance(data["tool"], dict) else {}
            return parse_policy(table, f"{policy_file}: [tool.concdiag]", project_dir)
        return parse_policy(data, str(policy_file), project_dir)
    pyproject = find_pyproject(cwd.resolve())
    if pyproject is None:
        return Policy(project_dir=cwd.resolve())
    data = _read_toml(pyproject)
    tool = data.get("tool", {})
    table = tool.get("concdiag") if isinstance(tool, dict) else None
    if table is None:
        return Policy(
            source=f"defaults (no [tool.concdiag] in {pyproject})", project_dir=pyproject.parent
        )
    return parse_policy(table, f"{_show(pyproject, cwd)}: [tool.concdiag]", pyproject.parent)


def _show(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd.resolve()))
    except ValueError:
        return str(path)
