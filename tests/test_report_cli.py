"""`concdiag report`: every format from a saved profile, the index page, and bad input."""

from __future__ import annotations

import dataclasses
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from concdiag.model import Profile
from concdiag.render.html import HtmlRenderer
from test_exports import busy_profile
from test_render import HOSTILE, hostile_profile


def concdiag(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "concdiag", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def save(profile: Profile, path: Path, started_at: str | None = None) -> Path:
    if started_at is not None:
        profile = dataclasses.replace(
            profile, run=dataclasses.replace(profile.run, started_at=started_at)
        )
    path.write_text(profile.to_json())
    return path


def test_report_reproduces_the_html_byte_for_byte(tmp_path: Path) -> None:
    saved = save(busy_profile(), tmp_path / "p.json")
    expected = HtmlRenderer().render(Profile.load(saved))
    out = tmp_path / "again.html"
    proc = concdiag("report", str(saved), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == expected.encode()


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        (
            "speedscope",
            lambda text: json.loads(text)["$schema"].endswith("file-format-schema.json"),
        ),
        ("chrome-trace", lambda text: "traceEvents" in json.loads(text)),
        ("md", lambda text: text.startswith("### concdiag:")),
        ("json", lambda text: json.loads(text)["schema"] == "concdiag-profile"),
        ("gecko", lambda text: json.loads(text)["meta"]["preprocessedProfileVersion"] >= 57),
    ],
)
def test_report_writes_each_format(tmp_path: Path, fmt: str, check) -> None:  # type: ignore[no-untyped-def]
    saved = save(busy_profile(), tmp_path / "p.json")
    proc = concdiag("report", str(saved), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert check(proc.stdout)


def test_index_lists_reports_newest_first_with_their_verdicts(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    old = save(busy_profile(), reports / "old.json", "2026-01-01T10:00:00+00:00")
    new = save(hostile_profile(), reports / "new.json", "2026-02-01T10:00:00+00:00")
    (reports / "new.html").write_text("<p>report</p>")
    (reports / "notes.json").write_text('{"not": "a profile"}')
    proc = concdiag("report", "--index", str(reports))
    assert proc.returncode == 0, proc.stderr
    index = (reports / "index.html").read_text()
    assert index.index("2026-02-01") < index.index("2026-01-01")
    assert 'href="new.html"' in index  # the HTML report when there is one
    assert 'href="old.json"' in index  # else the profile
    for saved in (old, new):
        v = Profile.load(saved).verdict
        assert f"{v.bound}-bound" in index and v.recommendation in index
    assert "notes.json" in index and "skipped" in index
    assert HOSTILE not in index and "&lt;script&gt;" in index
    assert "<script" not in index


def test_index_writes_where_asked(tmp_path: Path) -> None:
    save(busy_profile(), tmp_path / "a.json")
    out = tmp_path / "site" / "all.html"
    proc = concdiag("report", "--index", str(tmp_path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "1 report," in out.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ("report",),
        ("report", "--index", "missing-folder"),
        ("report", "p.json", "--index", "."),
        ("report", "p.json", "--format", "svg"),
        ("report", "missing.json"),
    ],
    ids=["nothing", "no-folder", "both", "bad-format", "no-profile"],
)
def test_bad_report_arguments_exit_2_with_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    save(busy_profile(), tmp_path / "p.json")
    proc = concdiag(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip(), "says what is wrong"
    assert len([line for line in proc.stderr.splitlines() if "error" in line.lower()]) == 1


def test_report_writes_pprof_to_a_file_or_a_pipe(tmp_path: Path) -> None:
    saved = save(busy_profile(), tmp_path / "p.json")
    out = tmp_path / "p.pb.gz"
    assert concdiag("report", str(saved), "--format", "pprof", "-o", str(out)).returncode == 0
    piped = subprocess.run(
        [sys.executable, "-m", "concdiag", "report", str(saved), "--format", "pprof"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == out.read_bytes()
    assert gzip.decompress(out.read_bytes())  # gzipped, as pprof reads it
