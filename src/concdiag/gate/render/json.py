"""The machine-readable result: the `GateResult` itself, as JSON."""

from __future__ import annotations

from concdiag.gate.result import GateResult


class JsonResultRenderer:
    extension = ".json"

    def render(self, result: GateResult) -> str:
        return result.to_json()
