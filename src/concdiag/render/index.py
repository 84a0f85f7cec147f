"""An index page of every saved profile in a folder, newest first, each with its verdict.

Unlike the other renderers it reads a folder, not one profile: each ``*.json`` file that
loads as a concdiag profile becomes a row linking to the HTML report beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from concdiag.errors import ConcdiagError, UsageError
from concdiag.model import Profile
from concdiag.render.html import confidence_word, template_environment


@dataclass(frozen=True, slots=True)
class IndexEntry:
    href: str  # relative link: the HTML report if there is one, else the JSON profile
    json_name: str
    has_html: bool
    profile: Profile


def scan(folder: Path) -> tuple[list[IndexEntry], list[str]]:
    """Profiles in ``folder`` newest first, and the names of JSON files that are not ones."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    entries: list[IndexEntry] = []
    skipped: list[str] = []
    for path in sorted(folder.glob("*.json")):
        try:
            profile = Profile.load(path)
        except ConcdiagError:
            skipped.append(path.name)
            continue
        html = path.with_suffix(".html")
        target = html if html.is_file() else path
        entries.append(IndexEntry(quote(target.name), path.name, html.is_file(), profile))
    entries.sort(key=lambda e: (e.profile.run.started_at, e.json_name), reverse=True)
    return entries, skipped


def render_index(folder: Path) -> str:
    entries, skipped = scan(folder)
    return (
        template_environment()
        .get_template("index.html.j2")
        .render(
            folder=folder.resolve().name or str(folder),
            entries=entries,
            skipped=skipped,
            confidence_word=confidence_word,
        )
    )
