"""How a gecko (Firefox Profiler processed format) document differs in layout from one that
CPython 3.15's sampler wrote: missing keys, tables whose columns disagree with their length,
indexes that point nowhere. Standard library only: `.ci/real_interpreters_check.py` runs it
inside the real 3.15 against a reference written there and then, the unit tests against the
reference kept in tests/data.
"""

from __future__ import annotations

import itertools
from typing import Any

#: A thread's tables, each a dict of equal-length columns plus ``length``.
TABLES = ("samples", "stackTable", "frameTable", "funcTable", "resourceTable", "markers")


def differences(reference: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    found: list[str] = []
    found += _missing("document", reference, ours)
    found += _missing("meta", reference["meta"], ours.get("meta", {}))
    for field in ("version", "preprocessedProfileVersion"):
        if ours.get("meta", {}).get(field, 0) < reference["meta"][field]:
            found.append(f"meta.{field} older than the reference's")
    found += _missing("shared", reference["shared"], ours.get("shared", {}))
    if not reference["threads"] or not ours.get("threads"):
        return [*found, "no threads"]
    ref_thread = reference["threads"][0]
    strings = ours.get("shared", {}).get("stringArray", [])
    for n, thread in enumerate(ours["threads"]):
        where = f"threads[{n}]"
        found += _missing(where, ref_thread, thread)
        for table in TABLES:
            if table in ref_thread and table in thread:
                found += _missing(f"{where}.{table}", ref_thread[table], thread[table])
                found += _ragged(f"{where}.{table}", thread[table])
        if not found:
            found += _dangling(where, thread, len(strings))
    return found


def _missing(where: str, reference: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    return [f"{where} lacks {key!r}" for key in reference if key not in ours]


def _ragged(where: str, table: dict[str, Any]) -> list[str]:
    length = table.get("length")
    return [
        f"{where}.{col} has {len(values)} rows, length says {length}"
        for col, values in table.items()
        if isinstance(values, list) and len(values) != length
    ]


def _dangling(where: str, thread: dict[str, Any], strings: int) -> list[str]:
    """Indexes into other tables, and into the shared strings, that point past their end."""
    found: list[str] = []
    stacks, frames, funcs = thread["stackTable"], thread["frameTable"], thread["funcTable"]
    checks = (
        ("samples.stack", thread["samples"]["stack"], stacks["length"]),
        ("stackTable.frame", stacks["frame"], frames["length"]),
        ("frameTable.func", frames["func"], funcs["length"]),
        ("funcTable.name", funcs["name"], strings),
        ("markers.name", thread["markers"]["name"], strings),
    )
    for name, values, bound in checks:
        if any(not isinstance(v, int) or not 0 <= v < bound for v in values):
            found.append(f"{where}.{name} points past its table ({bound} rows)")
    for i, prefix in enumerate(stacks["prefix"]):
        if prefix is not None and not 0 <= prefix < i:
            found.append(f"{where}.stackTable.prefix[{i}] is not an earlier stack")
            break
    times = thread["samples"]["time"]
    if any(b < a for a, b in itertools.pairwise(times)):
        found.append(f"{where}.samples.time goes backwards")
    return found
