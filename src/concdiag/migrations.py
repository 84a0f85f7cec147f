"""Documents written by earlier versions, brought to today's layout before they are loaded.

Each step is a plain rename on the JSON data, applied only when the document says it has
that version, so `concdiag report`, `check` and `diff` keep reading saved files.
"""

from __future__ import annotations

import copy
from typing import Any

#: Schema version 1 named the current model ``threads`` and ``processes``; version 2 uses the
#: recommendation's words.
V1_MODEL_WORDS = {"threads": "threading", "processes": "multiprocessing"}


def model_from_v1(kind: Any) -> Any:
    """A version-1 current-model word in today's words (anything else unchanged)."""
    return V1_MODEL_WORDS.get(kind, kind) if isinstance(kind, str) else kind


def profile_from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A schema-version-1 profile as version 2: the alive times of processes, threads, deep
    threads and tree workers were called ``wall_s``, and the current model's ``kind`` said
    ``threads``/``processes``. Returns a new document; ``data`` is left as it was."""
    doc = copy.deepcopy(data)
    for process in _objects(doc.get("processes")):
        _rename(process, "wall_s", "alive_s")
        for thread in _objects(process.get("threads")):
            _rename(thread, "wall_s", "alive_s")
    deep = doc.get("deep")
    if isinstance(deep, dict):
        for thread in _objects(deep.get("threads")):
            _rename(thread, "wall_s", "alive_s")
    tree = doc.get("tree")
    if isinstance(tree, dict):
        for worker in _objects(tree.get("workers")):
            _rename(worker, "wall_s", "alive_s")
    verdict = doc.get("verdict")
    if isinstance(verdict, dict) and isinstance(verdict.get("current_model"), dict):
        current = verdict["current_model"]
        if "kind" in current:
            current["kind"] = model_from_v1(current["kind"])
    doc["schema_version"] = 2
    return doc


#: Where a gate result holds a current-model word: in each measurement, and in the figures
#: of the findings that quote it.
_RESULT_MODEL_KEYS = ("current_model", "base_current_model", "head_current_model")


def result_from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 gate result as version 2: the current model (of HEAD, of the baseline, and
    as findings quote it) in today's words. Returns a new document."""
    doc = copy.deepcopy(data)
    for target in _objects(doc.get("targets")):
        holders = [target.get("measurement"), target.get("baseline")]
        holders += [f.get("figures") for f in _objects(target.get("findings"))]
        for holder in holders:
            if not isinstance(holder, dict):
                continue
            for key in _RESULT_MODEL_KEYS:
                if key in holder:
                    holder[key] = model_from_v1(holder[key])
    doc["schema_version"] = 2
    return doc


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _rename(obj: dict[str, Any], old: str, new: str) -> None:
    if old in obj and new not in obj:
        obj[new] = obj.pop(old)
