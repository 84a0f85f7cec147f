"""The policy: defaults, every key read from [tool.concdiag], and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from concdiag.errors import EXIT_USAGE
from concdiag.gate.policy import ConfigError, DiffLimits, Rules, load_policy


def write(tmp_path: Path, text: str, name: str = "pyproject.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_without_any_configuration(tmp_path: Path) -> None:
    policy = load_policy(None, tmp_path)
    assert policy.rules == Rules()
    assert policy.rules.fail_on_mismatch == "contradiction"
    assert policy.diff == DiffLimits()
    assert policy.targets == ()
    assert policy.repeat == 1


def test_pyproject_without_the_table_gives_defaults(tmp_path: Path) -> None:
    write(tmp_path, "[project]\nname = 'x'\n")
    policy = load_policy(None, tmp_path)
    assert policy.rules == Rules()
    assert "no [tool.concdiag]" in policy.source


def test_every_key_is_read_and_targets_override(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
[tool.concdiag]
fail_on_mismatch = "any"
min_confidence = 0.7
max_gil_wait_share = 0.4
repeat = 3
rate_hz = 50
time_limit_s = 20
reports_dir = "out"

[tool.concdiag.diff]
max_wall_increase = 0.1
max_cpu_increase = 0.2
max_gil_wait_share_increase = 0.05
min_time_change_s = 0.2
fail_on_new_mismatch = false

[[tool.concdiag.targets]]
script = "bench/crunch.py"
args = ["--size", "3"]
expect = "multiprocessing"
max_gil_wait_share = 0.9
time_limit_s = 5

[[tool.concdiag.targets]]
name = "server"
module = "app.server"
fail_on_mismatch = false
repeat = 1
""",
    )
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    policy = load_policy(None, sub)  # found from a subfolder, like pytest and ruff
    assert policy.project_dir == tmp_path.resolve()
    assert policy.rules == Rules("any", 0.7, 0.4, None)
    assert policy.diff == DiffLimits(0.1, 0.2, 0.05, 0.2, False)
    assert (policy.repeat, policy.rate_hz, policy.time_limit_s, policy.reports_dir) == (
        3,
        50.0,
        20.0,
        "out",
    )
    crunch, server = policy.targets
    assert crunch.name == "crunch"
    assert crunch.args == ("--size", "3")
    assert crunch.rules == Rules("any", 0.7, 0.9, "multiprocessing")
    assert (crunch.time_limit_s, crunch.repeat) == (5.0, 3)
    assert server.module == "app.server"
    assert server.rules.fail_on_mismatch == "never"
    assert server.rules.max_gil_wait_share == 0.4  # inherited
    assert (server.time_limit_s, server.repeat) == (20.0, 1)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[tool.concdiag]\nmax_gil_wait = 0.5\n", "unknown key 'max_gil_wait'"),
        ("[tool.concdiag.diff]\nmax_wall = 0.5\n", "unknown key 'max_wall'"),
        ("[[tool.concdiag.targets]]\nscript = 'a.py'\nargv = []\n", "unknown key 'argv'"),
        ("[tool.concdiag]\nmin_confidence = 1.5\n", "min_confidence must be a number between"),
        ("[tool.concdiag]\nmin_confidence = 'high'\n", "min_confidence must be a number"),
        ("[tool.concdiag]\nmax_gil_wait_share = -0.1\n", "max_gil_wait_share must be"),
        ("[tool.concdiag]\nfail_on_mismatch = 'maybe'\n", "fail_on_mismatch must be"),
        ("[tool.concdiag]\nrepeat = 0\n", "repeat must be a whole number"),
        ("[tool.concdiag]\nrepeat = true\n", "repeat must be a whole number"),
        ("[tool.concdiag]\ntargets = 'a.py'\n", "targets must be an array of tables"),
        ("[[tool.concdiag.targets]]\nscript = 'a.py'\nargs = '-v'\n", "args must be a list"),
        ("[[tool.concdiag.targets]]\nscript = 'a.py'\nexpect = 'threads'\n", "expect must be"),
        ("[[tool.concdiag.targets]]\nargs = []\n", "exactly one of script or module"),
        ("[[tool.concdiag.targets]]\nscript = 'a.py'\nmodule = 'a'\n", "exactly one of"),
        (
            "[[tool.concdiag.targets]]\nscript = 'a.py'\n[[tool.concdiag.targets]]\n"
            "script = 'b/a.py'\n",
            "two targets are named 'a'",
        ),
        ("[tool.concdiag.diff]\nfail_on_new_mismatch = 1\n", "must be true or false"),
        ("[tool.concdiag\n", "is not valid TOML"),
    ],
)
def test_bad_policy_names_the_key(tmp_path: Path, text: str, needle: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy(None, tmp_path)
    assert needle in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE
    assert "pyproject.toml" in caught.value.message


def test_target_errors_say_which_target(tmp_path: Path) -> None:
    write(
        tmp_path, "[[tool.concdiag.targets]]\nscript = 'a.py'\n[[tool.concdiag.targets]]\nx = 1\n"
    )
    with pytest.raises(ConfigError, match=r"targets\[1\]: unknown key 'x'"):
        load_policy(None, tmp_path)


def test_policy_file_with_top_level_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "min_confidence = 0.9\n[diff]\nmax_wall_increase = 0.5\n", "ci.toml")
    policy = load_policy(path, tmp_path / "elsewhere")
    assert policy.rules.min_confidence == 0.9
    assert policy.diff.max_wall_increase == 0.5
    assert policy.source == str(path)


def test_policy_file_that_is_a_pyproject(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.concdiag]\nmax_gil_wait_share = 0.25\n", "other.toml")
    assert load_policy(path, tmp_path).rules.max_gil_wait_share == 0.25


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read policy"):
        load_policy(tmp_path / "nope.toml", tmp_path)
