"""The published JSON Schema of the profile, generated from the model's dataclasses.

``profile.schema.json`` in this folder is the published copy; a test checks it matches what
`generate_schema` produces, so the schema cannot drift from the code. Regenerate it with
``python -m concdiag.schema``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Union

from concdiag.model import (
    BOUNDS,
    CPU_KINDS,
    CURRENT_MODELS,
    DEEP_BEHAVIOURS,
    RECOMMENDATIONS,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    STATE_KEYS,
    ClockCheck,
    DeepFunction,
    DeepProfile,
    Overhead,
    ProcessProfile,
    Profile,
    States,
    Verdict,
)
from concdiag.model.event_loop import STALL_KINDS, LoopStall
from concdiag.model.locks import LOCK_ADVICE, LOCK_KINDS, LockProfile
from concdiag.model.speedup import START_SOURCES, ProcessStart
from concdiag.model.states import GIL_KEYS
from concdiag.model.whatif import (
    ALTERNATIVE_STATUSES,
    SWAP_KINDS,
    WHATIF_MODELS,
    WHATIF_OUTCOMES,
    WHATIF_STATUSES,
    Alternative,
    WhatIf,
)

SCHEMA_PATH = Path(__file__).with_name("profile.schema.json")

#: Closed vocabularies, enforced by the schema.
_ENUMS: dict[tuple[type, str], list[Any]] = {
    (Verdict, "bound"): list(BOUNDS),
    (Verdict, "cpu_kind"): [*CPU_KINDS, None],
    (Verdict, "recommendation"): list(RECOMMENDATIONS),
    (DeepFunction, "behaviour"): list(DEEP_BEHAVIOURS),
    (DeepProfile, "clock"): ["cpu", "wall"],
    (DeepProfile, "cpu_source"): ["yappi", "sampler"],
    (LockProfile, "kind"): list(LOCK_KINDS),
    (LockProfile, "advice_kind"): list(LOCK_ADVICE),
    (ClockCheck, "source"): ["schedstat", "stat"],
    (WhatIf, "status"): list(WHATIF_STATUSES),
    (WhatIf, "outcome"): list(WHATIF_OUTCOMES),
    (WhatIf, "measured_recommendation"): [*WHATIF_MODELS, None],
    (Alternative, "kind"): list(SWAP_KINDS),
    (Alternative, "status"): list(ALTERNATIVE_STATUSES),
    (Alternative, "model"): list(WHATIF_MODELS),
    (ProcessStart, "method"): ["fork", "forkserver", "spawn"],
    (ProcessStart, "source"): list(START_SOURCES),
    (LoopStall, "kind"): list(STALL_KINDS),
}
#: Fields added to schema version 2 after its first release: optional, so profiles written
#: before them stay valid (they are read with the field's default).
_ADDED_IN_V2 = {
    (Profile, "locks"),
    (Profile, "whatif"),
    (Profile, "gil_blame"),
    (Profile, "event_loop"),
    (WhatIf, "scaling"),
    (Verdict, "process_start"),
    (Overhead, "stack_sampler_cpu_s"),
    (ProcessProfile, "helper"),
}


def _type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [_type_schema(a, defs) for a in typing.get_args(tp)]
        return {"anyOf": options}
    if dataclasses.is_dataclass(tp):
        name = tp.__name__  # type: ignore[union-attr]
        if name not in defs:
            defs[name] = {}  # reserve to stop recursion
            defs[name] = _object_schema(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    if origin is list:
        (item,) = typing.get_args(tp)
        return {"type": "array", "items": _type_schema(item, defs)}
    if origin is dict:
        _, item = typing.get_args(tp)
        return {"type": "object", "additionalProperties": _type_schema(item, defs)}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is type(None):
        return {"type": "null"}
    return {}


def _object_schema(cls: Any, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props = {}
    for f in dataclasses.fields(cls):
        prop = _type_schema(hints[f.name], defs)
        if (cls, f.name) in _ENUMS:
            prop = {"enum": _ENUMS[(cls, f.name)]}
        props[f.name] = prop
    schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": [f.name for f in dataclasses.fields(cls) if (cls, f.name) not in _ADDED_IN_V2],
        "additionalProperties": False,
    }
    if cls is States:
        for key in STATE_KEYS:
            props[key] = {"type": "number", "minimum": 0}
        for key in GIL_KEYS:  # null: the run had no GIL (free-threaded, running without it)
            props[key] = {"anyOf": [props[key], {"type": "null"}]}
    return schema


def generate_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    root = _object_schema(Profile, defs)
    root["properties"]["schema"] = {"const": SCHEMA_NAME}
    root["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    root["properties"]["deep"] = {"anyOf": [{"type": "object"}, {"type": "null"}]}
    defs["CurrentModel"]["properties"]["kind"] = {"enum": list(CURRENT_MODELS)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://concdiag.invalid/schema/profile-v{SCHEMA_VERSION}.json",
        "title": "concdiag profile",
        "description": "A concdiag profile: run, processes, threads, states and verdict.",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def main() -> None:
    SCHEMA_PATH.write_text(json.dumps(generate_schema(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
