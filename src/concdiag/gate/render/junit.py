"""JUnit XML for CI systems other than GitHub: one test suite per target, one case per rule."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from concdiag.gate.result import Finding, GateResult

# Characters XML 1.0 cannot hold at all (a hostile thread name must not break the file).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ERRORS = ("not-profiled", "target-failed")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _case(suite: ET.Element, finding: Finding) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=_clean(f"concdiag.{finding.target}"),
        name=_clean(finding.rule),
        time="0",
    )
    if finding.sites:
        case.set("file", _clean(finding.sites[0].file))
        case.set("line", str(finding.sites[0].line))
    where = "".join(f"\n  at {s.file}:{s.line} {s.code}" for s in finding.sites)
    body = _clean(finding.message + where)
    if finding.outcome == "failed":
        tag = "error" if finding.rule in _ERRORS else "failure"
        element = ET.SubElement(case, tag, type=finding.rule, message=_clean(finding.message))
        element.text = body
    elif finding.outcome in ("warning", "advice"):
        out = ET.SubElement(case, "system-out")
        out.text = f"{finding.outcome}: {body}"


class JunitRenderer:
    extension = ".xml"

    def render(self, result: GateResult) -> str:
        root = ET.Element("testsuites", name=f"concdiag {result.command}")
        totals = {"tests": 0, "failures": 0, "errors": 0}
        for target in result.targets:
            suite = ET.SubElement(root, "testsuite", name=_clean(target.name))
            findings = target.findings or [
                Finding("checked", "passed", target.name, "No rule applied.")
            ]
            for finding in findings:
                _case(suite, finding)
            failed = [f for f in findings if f.outcome == "failed"]
            counts = {
                "tests": len(findings),
                "failures": sum(f.rule not in _ERRORS for f in failed),
                "errors": sum(f.rule in _ERRORS for f in failed),
            }
            for key, value in counts.items():
                suite.set(key, str(value))
                totals[key] += value
            suite.set("skipped", "0")
        for key, value in totals.items():
            root.set(key, str(value))
        ET.indent(root)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode")
            + "\n"
        )
