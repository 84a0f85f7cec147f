"""The CI outputs of a gate result: which files to write, and writing them.

Every output is rendered from the same `GateResult`, so the Markdown summary, SARIF, JUnit,
the JSON result and the annotations always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from concdiag.fileio import check_writable, write_atomic
from concdiag.gate.result import GateResult


@dataclass(frozen=True, slots=True)
class Outputs:
    """Where each CI output goes; every one is rendered from the same result."""

    markdown: Path | None = None
    sarif: Path | None = None
    junit: Path | None = None
    result_json: Path | None = None
    annotations: bool = False
    step_summary: Path | None = None  # $GITHUB_STEP_SUMMARY: the Markdown is appended

    def files(self) -> list[Path]:
        return [p for p in (self.markdown, self.sarif, self.junit, self.result_json) if p]

    def check_writable(self) -> None:
        for path in self.files():
            check_writable(path)


def emit(result: GateResult, outputs: Outputs) -> tuple[str, list[str]]:
    """Write the requested files; return what goes to stdout and the notes for stderr."""
    # imported here, so that loading the CLI does not load every CI renderer
    from concdiag.gate.render.annotations import AnnotationsRenderer
    from concdiag.gate.render.json import JsonResultRenderer
    from concdiag.gate.render.junit import JunitRenderer
    from concdiag.gate.render.markdown import MarkdownResultRenderer
    from concdiag.gate.render.sarif import SarifRenderer
    from concdiag.gate.render.text import TextResultRenderer

    notes = []
    markdown = MarkdownResultRenderer().render(result)
    for path, text in (
        (outputs.markdown, markdown),
        (outputs.sarif, SarifRenderer().render(result) if outputs.sarif else ""),
        (outputs.junit, JunitRenderer().render(result) if outputs.junit else ""),
        (outputs.result_json, JsonResultRenderer().render(result) if outputs.result_json else ""),
    ):
        if path is not None:
            write_atomic(path, text)
            notes.append(f"wrote {path}")
    if outputs.step_summary is not None:
        try:
            with outputs.step_summary.open("a", encoding="utf-8") as handle:
                handle.write(markdown)
            notes.append("appended the summary to $GITHUB_STEP_SUMMARY")
        except OSError as exc:
            notes.append(f"could not append to $GITHUB_STEP_SUMMARY: {exc.strerror}")
    stdout = TextResultRenderer().render(result)
    if outputs.annotations:
        stdout += AnnotationsRenderer().render(result)
    return stdout, notes
