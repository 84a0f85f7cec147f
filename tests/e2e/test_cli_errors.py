"""Bad input: one clear line, a documented exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.conftest import concdiag

pytestmark = pytest.mark.e2e


def one_line_error(stderr: str, needle: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("concdiag: error:"), stderr
    assert needle in lines[0]
    assert "Traceback" not in stderr


def test_missing_script(tmp_path: Path) -> None:
    proc = concdiag("profile", str(tmp_path / "nope.py"), cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "no such script")


def test_directory_without_main(tmp_path: Path) -> None:
    proc = concdiag("profile", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "is a directory")


def test_syntax_error(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("def broken(:\n    pass\n")
    proc = concdiag("profile", str(script), cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "syntax error in")
    assert not list(tmp_path.glob("reports/*.json"))


def test_unknown_module(tmp_path: Path) -> None:
    proc = concdiag("profile", "-m", "no_such_module_xyz", cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "no module named no_such_module_xyz")


@pytest.mark.parametrize("python", ["/etc/hostname", "/bin/true", "/nonexistent/python"])
def test_interpreter_that_is_not_python(tmp_path: Path, python: str) -> None:
    script = tmp_path / "ok.py"
    script.write_text("print(1)\n")
    proc = concdiag("profile", "--python", python, str(script), cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, python)


def test_unwritable_output_is_checked_before_the_target_starts(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "ok.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    proc = concdiag("profile", "--json", "/etc/hostname/x.json", str(script), cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "/etc/hostname")
    assert not marker.exists()


def test_no_target(tmp_path: Path) -> None:
    proc = concdiag("profile", cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "give a script")


def test_report_on_a_missing_profile(tmp_path: Path) -> None:
    proc = concdiag("report", str(tmp_path / "missing.json"), cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "cannot read profile")


def test_stdio_argv_and_exit_code_pass_through(tmp_path: Path, profile_run) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "echo.py"
    script.write_text(
        "import sys\n"
        "data = sys.stdin.read()\n"
        "print('argv', sys.argv[1:], __name__)\n"
        "print('in', data.strip())\n"
        "print('err line', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    run = profile_run(str(script), "a b", "--token=s3cret", stdin="hello\n")
    assert "argv ['a b', '--token=s3cret'] __main__" in run.stdout
    assert "in hello" in run.stdout
    assert "err line" in run.stderr
    assert run.code == 3  # the target's own status, though 3 is also "cannot profile"
    assert "concdiag: error" not in run.stderr  # concdiag's own failures always say so
    data = run.profile
    assert data["run"]["exit"]["code"] == 3
    assert "s3cret" not in run.json_path.read_text()
    assert "s3cret" not in run.html_path.read_text()


def test_everything_after_the_module_is_the_targets(tmp_path: Path) -> None:
    (tmp_path / "argvmod.py").write_text(
        "import sys\nprint('argv', sys.argv[1:])\nsys.exit(int(sys.argv[-1]))\n"
    )
    proc = concdiag(
        "profile", "--json", "p.json", "-m", "argvmod", "--check", "-q", "-o", "2", "--", "5",
        cwd=tmp_path,
    )  # fmt: skip
    assert "argv ['--check', '-q', '-o', '2', '--', '5']" in proc.stdout
    assert proc.returncode == 5, proc.stderr  # the target's status, as python -m would leave
    assert "recommend" in proc.stderr  # -q was the target's: concdiag still printed its summary
    assert (tmp_path / "p.html").is_file()
    assert not (tmp_path / "2").exists()  # -o was the target's too


def test_options_before_the_script_are_concdiags_after_it_the_scripts(tmp_path: Path) -> None:
    (tmp_path / "args.py").write_text("import sys\nprint('argv', sys.argv[1:])\n")
    proc = concdiag("profile", "-q", "--json", "p.json", "--", "args.py", "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert "argv ['-q']" in proc.stdout
    proc = concdiag("profile", "--no-such-option", "args.py", cwd=tmp_path)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "--no-such-option")


def test_module_mode(tmp_path: Path, profile_run) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "work.py").write_text(
        "import sys\nprint('mod', __name__, sys.argv[1:])\n"
        "x = 0\nfor i in range(3_000_000):\n    x += i\n"
    )
    run = profile_run("-m", "mypkg.work", "arg1")
    assert run.code == 0, run.stderr
    assert "mod __main__ ['arg1']" in run.stdout
    assert run.profile["run"]["target"] == "mypkg.work"


def test_duration_ends_a_target_that_never_exits(tmp_path: Path, profile_run) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "forever.py"
    script.write_text("import time\nwhile True:\n    time.sleep(0.05)\n")
    run = profile_run(str(script), options=("--duration", "1"))
    assert run.code == 0, run.stderr
    data = run.profile
    assert data["run"]["partial"] is True
    assert "--duration" in data["run"]["partial_reasons"][0]
    assert 0.8 <= data["run"]["duration_s"] <= 6


def test_default_output_goes_to_reports(tmp_path: Path) -> None:
    script = tmp_path / "tiny.py"
    script.write_text("print('tiny')\n")
    proc = concdiag("profile", "--quiet", str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    jsons = list((tmp_path / "reports").glob("tiny-*.json"))
    assert len(jsons) == 1
    assert jsons[0].with_suffix(".html").exists()
