"""SARIF 2.1.0 for code scanning: one result per finding, located at the thread/pool sites.

Paths under the repository root are relative with ``uriBaseId`` ``%SRCROOT%``, which is what
GitHub code scanning resolves against the checkout.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from concdiag import __version__
from concdiag.gate.render.rules import RULES
from concdiag.gate.result import Finding, GateResult, Site

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"failed": "error", "warning": "warning", "advice": "note"}
_DEFAULT_LEVEL = {
    "advice": "note",
    "verdict-changed": "note",
    "unpaired-target": "note",
}


def _location(site: Site) -> dict[str, Any]:
    if site.file.startswith("/"):
        artifact: dict[str, Any] = {"uri": "file://" + quote(site.file)}
    else:
        artifact = {"uri": quote(site.file), "uriBaseId": "%SRCROOT%"}
    region: dict[str, Any] = {"startLine": max(1, site.line)}
    if site.code:
        region["snippet"] = {"text": site.code}
    return {"physicalLocation": {"artifactLocation": artifact, "region": region}}


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": _LEVEL[finding.outcome],
        "message": {"text": finding.message},
        "locations": [_location(s) for s in finding.sites[:10]],
        "partialFingerprints": {
            "concdiagFinding/v1": f"{finding.rule}:{finding.target}:"
            + ",".join(f"{s.file}:{s.line}" for s in finding.sites[:10])
        },
        "properties": {"target": finding.target, "figures": finding.figures},
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    return result


class SarifRenderer:
    extension = ".sarif"

    def render(self, result: GateResult) -> str:
        index = {rule.id: i for i, rule in enumerate(RULES)}
        document = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "concdiag",
                            "version": __version__,
                            "rules": [
                                {
                                    "id": rule.id,
                                    "name": rule.name,
                                    "shortDescription": {"text": rule.short},
                                    "fullDescription": {"text": rule.help},
                                    "help": {"text": rule.help},
                                    "defaultConfiguration": {
                                        "level": _DEFAULT_LEVEL.get(rule.id, "error")
                                    },
                                }
                                for rule in RULES
                            ],
                        }
                    },
                    "automationDetails": {"id": f"concdiag/{result.command}/"},
                    "invocations": [
                        {
                            "executionSuccessful": result.exit_code in (0, 1),
                            "exitCode": result.exit_code,
                        }
                    ],
                    "results": [
                        _result(f, index) for f in result.findings() if f.outcome in _LEVEL
                    ],
                }
            ],
        }
        return json.dumps(document, indent=1, sort_keys=True) + "\n"
