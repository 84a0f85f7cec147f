"""Every CI output rendered from one result: SARIF (schema-valid), annotations, JUnit, Markdown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from concdiag.gate.evaluate import evaluate, exit_code, target_status
from concdiag.gate.outputs import Outputs, emit
from concdiag.gate.policy import Rules
from concdiag.gate.render.annotations import AnnotationsRenderer, escape_data, escape_property
from concdiag.gate.render.junit import JunitRenderer
from concdiag.gate.render.markdown import MarkdownResultRenderer
from concdiag.gate.render.sarif import SarifRenderer
from concdiag.gate.result import Finding, GateResult, Site, TargetResult
from conftest import DATA
from gate_helpers import line_of, recorded_measurement

SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())


def result_for(project: Path, names: list[str], rules: Rules | None = None) -> GateResult:
    targets = []
    for name in names:
        m = recorded_measurement(name, project)
        script = f"sample_targets/{name}.py"
        findings = evaluate(name, m, rules or Rules(max_gil_wait_share=0.5), script)
        targets.append(
            TargetResult(
                name,
                ["python", script],
                script,
                [f"reports/{name}.json"],
                [f"reports/{name}.html"],
                target_status(findings),
                m,
                findings,
            )
        )
    return GateResult("check", False, exit_code(targets), "test", "stated margins", targets)


@pytest.fixture
def result(tmp_path: Path) -> GateResult:
    return result_for(tmp_path, ["cpu_threads", "io_threads", "cpu_serial"])


def test_sarif_validates_and_points_at_the_thread_lines(result: GateResult, tmp_path: Path) -> None:
    document = json.loads(SarifRenderer().render(result))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    by_rule = {}
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        by_rule.setdefault(res["ruleId"], []).append(res)
    (contradiction,) = by_rule["model-contradiction"]
    assert contradiction["level"] == "error"
    location = contradiction["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "sample_targets/cpu_threads.py",
        "uriBaseId": "%SRCROOT%",
    }
    line = line_of(tmp_path / "sample_targets/cpu_threads.py", "threading.Thread(")
    assert location["region"]["startLine"] == line
    assert "threading.Thread(" in location["region"]["snippet"]["text"]
    assert {r["level"] for r in by_rule["gil-wait-share"]} == {"error"}
    assert {r["level"] for r in by_rule["advice"]} == {"note"}  # cpu_serial
    assert run["invocations"][0]["exitCode"] == 1


def test_sarif_of_a_passing_result_is_valid_and_empty(tmp_path: Path) -> None:
    passing = result_for(tmp_path, ["io_threads", "native_threads"], Rules())
    document = json.loads(SarifRenderer().render(passing))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)
    assert document["runs"][0]["results"] == []


def test_sarif_validator_catches_a_broken_file(result: GateResult) -> None:
    document = json.loads(SarifRenderer().render(result))
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(document)


def test_annotations_at_the_lines_that_create_the_threads(
    result: GateResult, tmp_path: Path
) -> None:
    lines = AnnotationsRenderer().render(result).splitlines()
    line = line_of(tmp_path / "sample_targets/cpu_threads.py", "threading.Thread(")
    errors = [a for a in lines if a.startswith("::error ")]
    assert errors, lines
    for annotation in errors:
        assert annotation.startswith(f"::error file=sample_targets/cpu_threads.py,line={line},")
    assert any("title=concdiag model-contradiction (cpu_threads)::" in a for a in errors)
    notices = [a for a in lines if a.startswith("::notice ")]
    assert notices and all("file=sample_targets/cpu_serial.py,line=1," in a for a in notices)
    assert not any("io_threads" in a for a in lines)  # it passed: nothing to say


def test_annotation_escaping() -> None:
    assert escape_data("50% done\nnext") == "50%25 done%0Anext"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"
    finding = Finding(
        "advice", "advice", "t,1", "line\nbreak", {}, [Site("a,b.py", 3, "thread", "")]
    )
    target = TargetResult("t,1", [], None, [], [], "passed", None, [finding])
    text = AnnotationsRenderer().render(GateResult("check", True, 0, "", "", [target]))
    assert text == "::notice file=a%2Cb.py,line=3,title=concdiag advice (t%2C1)::line%0Abreak\n"


def test_junit_counts_failures_per_target(result: GateResult) -> None:
    root = ET.fromstring(JunitRenderer().render(result))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root}
    assert set(suites) == {"cpu_threads", "io_threads", "cpu_serial"}
    assert suites["cpu_threads"].get("failures") == "2"  # contradiction + GIL wait
    assert suites["io_threads"].get("failures") == "0"
    failure = suites["cpu_threads"].find("testcase/failure")
    assert failure is not None and failure.get("type") == "model-contradiction"
    case = suites["cpu_threads"].find("testcase")
    assert case is not None and case.get("file") == "sample_targets/cpu_threads.py"
    assert root.get("failures") == "2"
    assert root.get("tests") == str(sum(len(t.findings) for t in result.targets))


def test_hostile_names_stay_inert_in_every_output() -> None:
    hostile = "<script>alert(1)</script> | `x` \x1b[31m \x00 ::error::"
    finding = Finding(
        "target-failed", "failed", hostile, hostile, {}, [Site("a.py", 1, "thread", hostile)]
    )
    target = TargetResult(hostile, [], None, [], [], "target_failed", None, [finding])
    result = GateResult("check", False, 4, "", "", [target])
    root = ET.fromstring(JunitRenderer().render(result))  # still well-formed XML
    assert root.get("errors") == "1"
    md = MarkdownResultRenderer().render(result)
    assert "<script>" not in md
    annotations = AnnotationsRenderer().render(result)
    assert annotations.count("\n") == 1  # one line, no injected command
    assert annotations.startswith("::error file=a.py,line=1,title=concdiag target-failed (")
    # the title property cannot end early: its "::" and "," are escaped
    title = annotations.split("title=", 1)[1].split("::", 1)[0]
    assert "%3A%3Aerror%3A%3A" in title
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(SarifRenderer().render(result)))


def test_markdown_summary(result: GateResult) -> None:
    md = MarkdownResultRenderer().render(result)
    assert md.startswith("## concdiag check: ❌ failed")
    assert (
        "| cpu\\_threads | ❌ failed | cpu-bound (python) → **multiprocessing** | threads |" in md
    )
    assert "`sample_targets/cpu_threads.py:" in md
    assert "stated margins" in md
    assert "Reports: `reports/cpu_threads.html`" in md


def test_emit_writes_every_output_and_appends_the_step_summary(
    result: GateResult, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    outputs = Outputs(
        markdown=tmp_path / "o" / "summary.md",
        sarif=tmp_path / "o" / "r.sarif",
        junit=tmp_path / "o" / "junit.xml",
        result_json=tmp_path / "o" / "result.json",
        annotations=True,
        step_summary=summary,
    )
    stdout, notes = emit(result, outputs)
    assert summary.read_text() == "earlier step\n" + MarkdownResultRenderer().render(result)
    assert GateResult.from_dict(json.loads((tmp_path / "o/result.json").read_text())) == result
    assert (tmp_path / "o/summary.md").read_text() == MarkdownResultRenderer().render(result)
    assert "::error file=sample_targets/cpu_threads.py" in stdout
    assert stdout.startswith("concdiag check: FAILED")
    assert len(notes) == 5


def test_text_summary_strips_terminal_control_characters() -> None:
    from concdiag.gate.render.text import TextResultRenderer

    finding = Finding("advice", "advice", "t", "name \x1b[2J\x1b[31mred\x07", {}, [])
    target = TargetResult("t\x1b]0;title\x07", [], None, [], [], "passed", None, [finding])
    text = TextResultRenderer().render(GateResult("check", True, 0, "", "", [target]))
    assert "\x1b" not in text and "\x07" not in text
    assert "red" in text
