"""Markdown for pull-request comments: verdict, key figures, per-thread table; no links."""

from __future__ import annotations

import re

from concdiag.formatting import pct
from concdiag.model import Profile, model_noun, recommendation_words
from concdiag.render.deep_view import BEHAVIOUR_LABELS, highlights
from concdiag.render.figures import (
    STATE_LABELS,
    bound_words,
    clock_notes,
    gil_cell,
    key_figures,
    share_with_error,
    state_keys,
)
from concdiag.render.locks_view import markdown_lines
from concdiag.render.whatif_view import OUTCOME_LABELS, alternative_rows, load_text, site_rows

DEEP_ROWS_PER_THREAD = 5

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md_escape(text: str) -> str:
    """Escape Markdown and HTML-significant characters so names render as plain text."""
    return _SPECIAL.sub(r"\\\1", text.replace("\n", " ").replace("\r", " "))


_MATCH_WORDS = {True: "matches", False: "does not match", None: "no comparison with"}


class MarkdownRenderer:
    extension = ".md"

    def render(self, profile: Profile) -> str:
        v = profile.verdict
        run = profile.run
        kind = f" ({v.cpu_kind})" if v.cpu_kind else ""
        advice = (
            recommendation_words(v.recommendation)
            if v.recommendation == "none"
            else f"recommend **{v.recommendation}**"
        )
        out = [
            f"### concdiag: {bound_words(v.bound)}{kind}, {advice} (confidence {v.confidence:.2f})",
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
            f"**Current model:** {model_noun(cm.kind)} "
            f"({_MATCH_WORDS[cm.matches]}"
            f" the recommendation). {md_escape(cm.advice)}",
        ]
        for site in cm.sites[:8]:
            out.append(f"- `{site.file.rsplit('/', 1)[-1]}:{site.line}` {md_escape(site.code)}")
        keys = state_keys(profile)
        out += [
            "",
            "| process | thread | role | wall s | CPU s | CPU clock | "
            + " | ".join(STATE_LABELS[k] for k in keys)
            + " |",
            "| --- | --- | --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in keys) + " |",
        ]
        for proc in profile.processes:
            for t in proc.threads:
                if not t.python:
                    continue
                errors = t.share_errors
                cells = " | ".join(
                    share_with_error(t.states.get(k), errors.get(k) if errors else None) or "0%"
                    for k in keys
                )
                few = " (few samples)" if t.few_samples else ""
                role = proc.helper or t.role
                out.append(
                    f"| {proc.pid} | {md_escape(t.name)}{few} | {role} | {t.alive_s:.2f} | "
                    f"{t.cpu_user_s + t.cpu_system_s:.2f} | {pct(t.cpu_clock_share)} | {cells} |"
                )
        notes = clock_notes(profile)
        if notes:
            out += ["", "**Measurement notes**", ""] + [f"- {md_escape(n)}" for n in notes]
        out += markdown_lines(profile, md_escape)
        out += _deep_lines(profile)
        out += _whatif_lines(profile)
        out += [
            "",
            f"Python {md_escape(run.python.version)}, {run.cpu_count} cores, "
            f"{run.duration_s:.2f} s at {run.rate_hz:g} Hz, {run.sample_count} samples; "
            f"target {md_escape(run.exit.description)}"
            + ("; **partial**: " + md_escape("; ".join(run.partial_reasons)) if run.partial else "")
            + ".",
        ]
        return "\n".join(out) + "\n"


def _deep_lines(profile: Profile) -> list[str]:
    """Deep mode: which functions wait and which compute, then each thread's top functions."""
    deep = profile.deep
    if deep is None:
        return []

    def num(x: float | None, fmt: str = ".3f") -> str:
        return "" if x is None else format(x, fmt)

    out = [
        "",
        f"**Deep** (yappi {md_escape(deep.yappi_version)}, {deep.clock} clock; CPU from "
        f"{deep.cpu_source})",
        "",
    ]
    waits, computes = highlights(profile)
    out += [f"- waits: {md_escape(h.sentence())}" for h in waits]
    out += [f"- computes: {md_escape(h.sentence())}" for h in computes]
    out += [
        "",
        "| thread | function | behaviour | calls | CPU s | wall s | GIL held s | GIL wait s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t in deep.threads:
        for r in t.functions[:DEEP_ROWS_PER_THREAD]:
            out.append(
                f"| {md_escape(t.name)} | {md_escape(r.function)} "
                f"{md_escape(r.file.rsplit('/', 1)[-1])}:{r.line} | "
                f"{BEHAVIOUR_LABELS[r.behaviour]} | {'' if r.calls is None else r.calls} | "
                f"{num(r.cpu_s)} | {r.wall_s:.2f} | {gil_cell(r.state_seconds.gil_held)} | "
                f"{gil_cell(r.state_seconds.gil_wait)} |"
            )
    return out


def _whatif_lines(profile: Profile) -> list[str]:
    """The measured alternatives: the outcome, a table, what could not run or be swapped."""
    w = profile.whatif
    if w is None:
        return []
    out = [
        "",
        f"**Measured alternatives** ({OUTCOME_LABELS.get(w.outcome, w.outcome)}): "
        + md_escape(w.message),
    ]
    if w.alternatives:
        out += [
            "",
            "| alternative | model | wall (median ± spread) | cores used | speedup | predicted "
            "| status |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in alternative_rows(w):
            out.append(
                f"| {md_escape(r.label)} | {r.model} | {r.wall} | {r.cores} | "
                f"{md_escape(r.speedup)} | {r.predicted} | {md_escape(r.status)} |"
            )
    for f in w.failures:
        where = f"{f.file.rsplit('/', 1)[-1]}:{f.line}" if f.file else "unknown line"
        out.append(
            f"- could not run under {md_escape(f.alternative)}: {md_escape(f.error)} "
            f"(task submitted at `{where}`)"
        )
    for s in site_rows(w):
        if not s.swappable:
            at = f" at `{s.where}`" if s.where else ""
            out.append(f"- not swapped: {md_escape(s.what)}{at}: {md_escape(s.note)}")
    if w.note:
        out.append(f"- {md_escape(w.note)}")
    if load_text(w):
        out.append(f"- {md_escape(load_text(w))}")
    return out
