"""The README's quick start is exactly two commands, and CI runs the second one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_quick_start_has_two_commands() -> None:
    blocks = quick_start()
    assert len(blocks) == 2
    assert all("\n" not in b for b in blocks)
    assert "concdiag profile sample_targets/" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start()[1] in ci


def test_quick_start_target_exists() -> None:
    target = quick_start()[0].rsplit(" ", 1)[1]
    assert (ROOT / target).is_file()


#: The README's most bytes: a newcomer reads it in a minute; the rest lives in docs/.
README_MAX_BYTES = 8 * 1024


def test_readme_is_short_and_every_subcommand_has_a_page() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.encode()) < README_MAX_BYTES
    for command in ("profile", "attach", "whatif", "report", "check"):
        assert re.search(rf"\| `concdiag {command}\b.*\]\(docs/[\w-]+\.md\)", text), command


def test_relative_links_in_the_readme_and_docs_lead_to_files() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
