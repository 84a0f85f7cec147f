"""GitHub Actions workflow commands (``::error file=…,line=…::``) for a gate result.

Each failing, warning or advice finding becomes one annotation per site (the lines that
create the threads or pools in question), so the pull request shows it on those lines.
"""

from __future__ import annotations

from concdiag.gate.result import GateResult

_LEVEL = {"failed": "error", "warning": "warning", "advice": "notice"}
MAX_SITES = 5


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


class AnnotationsRenderer:
    extension = ".txt"

    def render(self, result: GateResult) -> str:
        lines = []
        for finding in result.findings():
            level = _LEVEL.get(finding.outcome)
            if level is None:
                continue
            title = escape_property(f"concdiag {finding.rule} ({finding.target})")
            message = escape_data(finding.message)
            if not finding.sites:
                lines.append(f"::{level} title={title}::{message}")
            for site in finding.sites[:MAX_SITES]:
                where = f"file={escape_property(site.file)},line={site.line}"
                lines.append(f"::{level} {where},title={title}::{message}")
        return "".join(line + "\n" for line in lines)
