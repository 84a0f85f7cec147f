"""Renderers: each turns a saved `Profile` into one output format, and nothing else.

They share one contract (`Renderer`): a file extension and ``render(profile)``. Every output
is rendered from the profile alone, so re-rendering a saved profile gives the same bytes.
"""

from __future__ import annotations

from typing import Protocol

from concdiag.model import Profile


class Renderer(Protocol):
    extension: str

    def render(self, profile: Profile) -> str | bytes: ...


def get_renderer(fmt: str) -> Renderer:
    from concdiag.render.chrometrace import ChromeTraceRenderer
    from concdiag.render.gecko import GeckoRenderer
    from concdiag.render.html import HtmlRenderer
    from concdiag.render.json import JsonRenderer
    from concdiag.render.markdown import MarkdownRenderer
    from concdiag.render.pprof import PprofRenderer
    from concdiag.render.speedscope import SpeedscopeRenderer

    renderers: dict[str, Renderer] = {
        "html": HtmlRenderer(),
        "json": JsonRenderer(),
        "md": MarkdownRenderer(),
        "speedscope": SpeedscopeRenderer(),
        "chrome-trace": ChromeTraceRenderer(),
        "gecko": GeckoRenderer(),
        "pprof": PprofRenderer(),
    }
    return renderers[fmt]


FORMATS = ("html", "json", "md", "speedscope", "chrome-trace", "gecko", "pprof")
