"""The pull-request summary of a `check` or `diff` result (GitHub-flavoured Markdown)."""

from __future__ import annotations

from concdiag.formatting import pct
from concdiag.gate.render.text import change_delta, change_value, is_share
from concdiag.gate.result import Change, GateResult, Measurement, TargetResult
from concdiag.model import STATE_KEYS, model_noun
from concdiag.render.figures import STATE_LABELS
from concdiag.render.markdown import md_escape

_MARK = {"failed": "❌ failed", "warning": "⚠️ warning", "advice": "ℹ️ advice", "passed": "✅ passed"}
_STATUS = {
    "passed": "✅ passed",
    "failed": "❌ failed",
    "target_failed": "❌ target failed",
    "not_profiled": "❌ not profiled",
}


def code(text: str) -> str:
    """A code span: Markdown escapes do not apply inside it, so only backticks are replaced."""
    return "`" + text.replace("`", "'").replace("\n", " ").replace("|", "\\|") + "`"


def _share(shares: dict[str, float], key: str) -> str:
    """A thread's share of one state; "no GIL" where the run had none to hold or wait for."""
    return pct(shares[key]) if key in shares else "no GIL"


def _verdict(m: Measurement | None) -> str:
    if m is None:
        return "n/a"
    kind = f" ({m.cpu_kind})" if m.cpu_kind else ""
    return f"{m.bound}-bound{kind} → **{m.recommendation}**"


def _figure(m: Measurement | None, name: str) -> str:
    if m is None or name not in m.figures:
        return "n/a"
    s = m.figures[name]
    margin = f" ± {change_value(name, s.margin)}" if s.margin else ""
    return change_value(name, s.median) + margin


def _change_row(c: Change) -> str:
    delta = change_delta(c) or "n/a"
    if c.base and c.head is not None and not is_share(c.figure):
        delta += f" ({100 * (c.head - c.base) / c.base:+.0f}%)"
    limit = "shown only" if c.limit is None else f"+{change_value(c.figure, c.limit)}"
    margin = change_value(c.figure, c.margin)
    verdict = "❌ regressed" if c.regressed else ("✅" if c.limit is not None else "")
    return (
        f"| {md_escape(c.figure)} | {change_value(c.figure, c.base)} | "
        f"{change_value(c.figure, c.head)} | {delta} | {limit} | {margin} | {verdict} |"
    )


def _threads(t: TargetResult) -> list[str]:
    head = {th.name: th for th in (t.measurement.threads if t.measurement else [])}
    base = {th.name: th for th in (t.baseline.threads if t.baseline else [])}
    names = list(base) + [n for n in head if n not in base]
    if not names:
        return []
    out = [
        "",
        "<details><summary>Per-thread state shares (base → head)</summary>",
        "",
        "| thread | " + " | ".join(STATE_LABELS[k] for k in STATE_KEYS) + " |",
        "| --- | " + " | ".join("---:" for _ in STATE_KEYS) + " |",
    ]
    for name in names[:40]:
        cells = []
        for k in STATE_KEYS:
            b = _share(base[name].shares, k) if name in base else "–"
            h = _share(head[name].shares, k) if name in head else "–"
            cells.append(f"{b} → {h}")
        out.append(f"| {md_escape(name)} | " + " | ".join(cells) + " |")
    out += ["", "</details>"]
    return out


def _target(t: TargetResult) -> list[str]:
    out = ["", f"### {md_escape(t.name)}: {_STATUS.get(t.status, t.status)}", ""]
    m = t.measurement
    if t.baseline is not None:
        out.append(f"- base: {_verdict(t.baseline)}, runs {model_noun(t.baseline.current_model)}")
        out.append(f"- head: {_verdict(m)}, runs {model_noun(m.current_model) if m else 'n/a'}")
    elif m is not None:
        out.append(
            f"- verdict: {_verdict(m)} (confidence {m.confidence:.2f}, {m.agreement} of "
            f"{m.runs} runs agree); runs {model_noun(m.current_model)}"
        )
        out.append(f"- {md_escape(m.summary)}")
    for f in t.findings:
        if f.outcome == "passed" and t.baseline is None and f.rule != "gil-wait-share":
            continue
        where = ", ".join(code(f"{s.file}:{s.line}") for s in f.sites[:5])
        out.append(
            f"- {_MARK[f.outcome]} `{f.rule}`: {md_escape(f.message)}"
            + (f" ({where})" if where else "")
        )
    if t.changes:
        out += [
            "",
            "| figure | base | head | change | limit | noise margin | result |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        out += [_change_row(c) for c in t.changes]
        out += _threads(t)
    if t.reports:
        out.append("")
        out.append("Reports: " + ", ".join(code(r) for r in t.reports))
    return out


class MarkdownResultRenderer:
    extension = ".md"

    def render(self, result: GateResult) -> str:
        state = "✅ passed" if result.passed else "❌ failed"
        out = [f"## concdiag {result.command}: {state}", ""]
        if result.command == "check":
            out += [
                "| target | result | verdict | model in use | confidence | GIL wait | wall | CPU |",
                "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
            ]
            for t in result.targets:
                m = t.measurement
                out.append(
                    f"| {md_escape(t.name)} | {_STATUS.get(t.status, t.status)} | {_verdict(m)} | "
                    f"{model_noun(m.current_model) if m else 'n/a'} | "
                    f"{f'{m.confidence:.2f}' if m else 'n/a'} | {_figure(m, 'gil_wait_share')} | "
                    f"{_figure(m, 'wall_s')} | {_figure(m, 'cpu_s')} |"
                )
        for t in result.targets:
            out += _target(t)
        out += [
            "",
            f"<sub>Exit code {result.exit_code}. Policy: {md_escape(result.policy_source)}. "
            f"Margins: {md_escape(result.margins)}.</sub>",
        ]
        return "\n".join(out) + "\n"
