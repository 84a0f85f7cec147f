"""speedscope's JSON file format: one sampled profile per thread, weights in seconds.

Format: https://www.speedscope.app/file-format-schema.json. Each sample's outermost frame
is the thread's state (``[GIL wait]``...), so speedscope's views split each thread's time by
state first and by code below it, and its sandwich view still gives functions' own time.
"""

from __future__ import annotations

import json
from typing import Any

from concdiag.model import STATE_KEYS, Profile, recommendation_words
from concdiag.render.figures import STATE_LABELS
from concdiag.render.views import thread_names, trimmed_stacks

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"


class SpeedscopeRenderer:
    extension = ".speedscope.json"

    def render(self, profile: Profile) -> str:
        return json.dumps(speedscope_document(profile), sort_keys=True, allow_nan=False) + "\n"


def speedscope_document(profile: Profile) -> dict[str, Any]:
    interval = 1.0 / profile.run.rate_hz if profile.run.rate_hz else 0.0
    frames: list[dict[str, Any]] = [{"name": f"[{STATE_LABELS[k]}]"} for k in STATE_KEYS]
    offset = len(frames)
    for f in profile.frames:
        frames.append({"name": f.function, "file": f.file, "line": f.line})
    names = thread_names(profile)
    by_thread: dict[tuple[int, int], list[tuple[list[int], float]]] = {}
    for s in trimmed_stacks(profile):
        state = STATE_KEYS.index(s.state) if s.state in STATE_KEYS else STATE_KEYS.index("unknown")
        sample = [state, *(offset + i for i in s.frames)]
        by_thread.setdefault((s.pid, s.tid), []).append((sample, round(s.count * interval, 6)))
    profiles = []
    for (pid, tid), samples in sorted(by_thread.items()):
        total = sum(w for _, w in samples)
        profiles.append(
            {
                "type": "sampled",
                "name": f"{names.get((pid, tid), f'thread-{tid}')} (pid {pid}, tid {tid})",
                "unit": "seconds",
                "startValue": 0,
                "endValue": round(total, 6),
                "samples": [s for s, _ in samples],
                "weights": [w for _, w in samples],
            }
        )
    v = profile.verdict
    return {
        "$schema": SCHEMA_URL,
        "shared": {"frames": frames},
        "profiles": profiles,
        "name": (
            f"concdiag: {profile.run.target} "
            f"({v.bound}-bound, {recommendation_words(v.recommendation)})"
        ),
        "activeProfileIndex": 0,
        "exporter": f"concdiag {profile.run.concdiag_version}",
    }
