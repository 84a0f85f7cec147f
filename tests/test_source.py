"""The one reader of the target's source: parsed once per version of a file, one size limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from concdiag.analysis import source
from concdiag.analysis.source import parsed_source


def test_a_file_is_parsed_once_and_again_when_it_changes(tmp_path: Path) -> None:
    script = tmp_path / "work.py"
    script.write_text("import threading\nthreading.Thread(target=print).start()\n")
    first = parsed_source(str(script))
    assert first is not None and first.lines[0] == "import threading"
    assert parsed_source(str(script)) is first
    script.write_text("x = 1\n")
    os.utime(script, ns=(1, 1))  # a new version even on a coarse clock
    second = parsed_source(str(script))
    assert second is not None and second is not first and second.lines == ("x = 1",)


def test_a_coding_declaration_and_a_bom_are_honoured(tmp_path: Path) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9'\n")
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfx = 1\n")
    parsed_latin, parsed_bom = parsed_source(str(latin)), parsed_source(str(bom))
    assert parsed_latin is not None and parsed_latin.lines[1] == "name = '\xe9'"
    assert parsed_bom is not None and parsed_bom.lines == ("x = 1",)


def test_unreadable_unparsable_and_oversized_files_give_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    large = tmp_path / "large.py"
    large.write_text("x = 1\n" * 10)
    monkeypatch.setattr(source, "MAX_SOURCE_BYTES", 20)
    assert parsed_source(str(tmp_path / "missing.py")) is None
    assert parsed_source(str(broken)) is None
    assert parsed_source(str(large)) is None
