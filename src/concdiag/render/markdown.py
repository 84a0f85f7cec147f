"""Markdown for pull-request comments: verdict, key figures, per-thread table; no links."""

from __future__ import annotations

import re

from concdiag.model import STATE_KEYS, Profile
from concdiag.render.figures import STATE_LABELS, key_figures, pct

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md_escape(text: str) -> str:
    """Escape Markdown and HTML-significant characters so names render as plain text."""
    return _SPECIAL.sub(r"\\\1", text.replace("\n", " ").replace("\r", " "))


class MarkdownRenderer:
    extension = ".md"

    def render(self, profile: Profile) -> str:
        v = profile.verdict
        run = profile.run
        kind = f" ({v.cpu_kind})" if v.cpu_kind else ""
        out = [
            f"### concdiag: {v.bound}-bound{kind}, recommend **{v.recommendation}** "
            f"(confidence {v.confidence:.2f})",
            "",
            md_escape(v.summary),
            "",
            "| figure | value |",
            "| --- | --- |",
        ]
        out += [f"| {md_escape(f.label)} | {md_escape(f.value)} |" for f in key_figures(profile)]
        out += ["", "**Why**", ""]
        out += [f"- {md_escape(r.message)}" for r in v.reasons]
        cm = v.current_model
        out += [
            "",
            f"**Current model:** {cm.kind} ({'matches' if cm.matches else 'does not match'}"
            f" the recommendation). {md_escape(cm.advice)}",
        ]
        for site in cm.sites[:8]:
            out.append(f"- `{site.file.rsplit('/', 1)[-1]}:{site.line}` {md_escape(site.code)}")
        out += [
            "",
            "| process | thread | role | wall s | CPU s | "
            + " | ".join(STATE_LABELS[k] for k in STATE_KEYS)
            + " |",
            "| --- | --- | --- | ---: | ---: | " + " | ".join("---:" for _ in STATE_KEYS) + " |",
        ]
        for proc in profile.processes:
            for t in proc.threads:
                if not t.python:
                    continue
                cells = " | ".join(pct(t.states.get(k)) for k in STATE_KEYS)
                out.append(
                    f"| {proc.pid} | {md_escape(t.name)} | {t.role} | {t.wall_s:.2f} | "
                    f"{t.cpu_user_s + t.cpu_system_s:.2f} | {cells} |"
                )
        out += [
            "",
            f"Python {md_escape(run.python.version)}, {run.cpu_count} cores, "
            f"{run.duration_s:.2f} s at {run.rate_hz:g} Hz, {run.sample_count} samples; "
            f"target {md_escape(run.exit.description)}"
            + ("; **partial**: " + md_escape("; ".join(run.partial_reasons)) if run.partial else "")
            + ".",
        ]
        return "\n".join(out) + "\n"
