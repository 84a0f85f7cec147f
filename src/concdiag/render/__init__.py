"""Renderers: each turns a saved `Profile` into one output format, and nothing else.

They share one contract (`Renderer`): a file extension and ``render(profile)``. Every output
is rendered from the profile alone, so re-rendering a saved profile gives the same bytes.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from concdiag.model import Profile


class Renderer(Protocol):
    extension: str

    def render(self, profile: Profile) -> str | bytes: ...


#: Each format's renderer class, imported only when that format is asked for (the HTML one
#: brings jinja2; `report --format md` need not pay for it).
RENDERERS: dict[str, str] = {
    "html": "concdiag.render.html:HtmlRenderer",
    "json": "concdiag.render.json:JsonRenderer",
    "md": "concdiag.render.markdown:MarkdownRenderer",
    "speedscope": "concdiag.render.speedscope:SpeedscopeRenderer",
    "chrome-trace": "concdiag.render.chrometrace:ChromeTraceRenderer",
    "gecko": "concdiag.render.gecko:GeckoRenderer",
    "pprof": "concdiag.render.pprof:PprofRenderer",
}
FORMATS = tuple(RENDERERS)


def get_renderer(fmt: str) -> Renderer:
    module, _, name = RENDERERS[fmt].partition(":")
    renderer: Renderer = getattr(importlib.import_module(module), name)()
    return renderer
