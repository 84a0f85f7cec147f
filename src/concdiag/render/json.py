"""The JSON profile itself: the document every other renderer reads."""

from __future__ import annotations

from concdiag.model import Profile


class JsonRenderer:
    extension = ".json"

    def render(self, profile: Profile) -> str:
        return profile.to_json()
