"""The Firefox Profiler's processed ("gecko") format, in the layout CPython 3.15's own sampler
writes (``python -m profiling.sampling ... --gecko``): one thread per sampled thread, strings
shared, and markers for each stretch of the timeline a thread spent in one state.

A profile keeps aggregated stacks, not each sample's time, so each thread's samples are its
distinct stacks, weighted by how often they were seen and spread evenly over the thread's life;
the timeline the profiler draws is the markers', taken from the profile's per-bin lanes. Each
stack's outermost frame is the thread's state (as in the speedscope export), so the call tree
splits time by state first, coloured by the state's category.

Open the file at https://profiler.firefox.com ("Load a profile from file").
"""

from __future__ import annotations

import json
from typing import Any

from concdiag.model import STATE_KEYS, Profile, recommendation_words
from concdiag.render.commands import process_label
from concdiag.render.figures import STATE_LABELS
from concdiag.render.views import Stack, StringTable, lane_runs, trimmed_stacks

#: The processed format's versions that CPython 3.15.2's sampler writes; the profiler
#: upgrades older files on load, so these are the oldest it must accept from us.
GECKO_VERSION = 32
PREPROCESSED_VERSION = 57

_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Other", "grey"),
    ("Python", "yellow"),
    ("GIL held", "green"),
    ("GIL wait", "red"),
    ("Native", "blue"),
    ("I/O wait", "lightblue"),
    ("Lock wait", "orange"),
)
_CATEGORY = {name: i for i, (name, _) in enumerate(_CATEGORIES)}
_STATE_CATEGORY = {
    "gil_held": "GIL held",
    "gil_wait": "GIL wait",
    "native": "Native",
    "io": "I/O wait",
    "sync": "Lock wait",
    "unknown": "Other",
}
#: Marker names where CPython's sampler has one for the same state, ours otherwise.
_MARKER_NAMES = {
    "gil_held": "Has GIL",
    "gil_wait": "Waiting for GIL",
    "native": "Native Code",
    "io": "I/O wait",
    "sync": "Lock wait",
}
_INTERVAL_PHASE = 1
_MS = 1000.0


class GeckoRenderer:
    extension = ".gecko.json"

    def render(self, profile: Profile) -> str:
        return json.dumps(gecko_document(profile), allow_nan=False) + "\n"


def gecko_document(profile: Profile) -> dict[str, Any]:
    strings = StringTable()
    by_thread: dict[tuple[int, int], list[Stack]] = {}
    for s in trimmed_stacks(profile):
        by_thread.setdefault((s.pid, s.tid), []).append(s)
    lanes = {(lane.pid, lane.tid): lane for lane in profile.timeline.lanes}
    threads = []
    for proc in profile.processes:
        process_name = process_label(proc.command)
        for t in proc.threads:
            key = (proc.pid, t.tid)
            if key not in by_thread and key not in lanes:
                continue
            thread = _thread_shell(proc.pid, t.tid, t.name, t.is_main, process_name or t.name)
            thread["processStartupTime"] = proc.first_seen_s * _MS
            thread["registerTime"] = t.first_seen_s * _MS
            thread["unregisterTime"] = t.last_seen_s * _MS
            _fill_stacks(thread, profile, by_thread.get(key, []), strings, t)
            thread["markers"] = _markers(profile, key, strings)
            threads.append(thread)
    return {
        "meta": _meta(profile),
        "libs": [],
        "threads": threads,
        "pages": [],
        "shared": {
            "stringArray": strings.table,
            "sources": {"length": 0, "uuid": [], "filename": []},
        },
    }


def _meta(profile: Profile) -> dict[str, Any]:
    run = profile.run
    v = profile.verdict
    return {
        "interval": _MS / run.rate_hz if run.rate_hz else 0.0,
        "startTime": 0.0,
        "abi": "",
        "misc": f"{v.bound}-bound, {recommendation_words(v.recommendation)} ({v.confidence:.2f})",
        "oscpu": "",
        "platform": "Linux",
        "processType": 0,
        "categories": [
            {"name": name, "color": color, "subcategories": ["Other"]}
            for name, color in _CATEGORIES
        ],
        "stackwalk": 0,
        "toolkit": "",
        "version": GECKO_VERSION,
        "preprocessedProfileVersion": PREPROCESSED_VERSION,
        "appBuildID": "",
        "physicalCPUs": run.cpu_count,
        "logicalCPUs": run.cpu_count,
        "CPUName": "",
        "product": f"concdiag {run.concdiag_version}: {run.target}",
        "symbolicated": True,
        "markerSchema": [],
        "importedFrom": f"concdiag {run.concdiag_version}",
        "extensions": {"id": [], "name": [], "baseURL": [], "length": 0},
    }


def _thread_shell(pid: int, tid: int, name: str, is_main: bool, process: str) -> dict[str, Any]:
    return {
        "name": name,
        "isMainThread": is_main,
        "processStartupTime": 0.0,
        "processShutdownTime": None,
        "registerTime": 0.0,
        "unregisterTime": None,
        "pausedRanges": [],
        "pid": str(pid),
        "tid": tid,
        "processType": "default",
        "processName": process,
    }


def _fill_stacks(
    thread: dict[str, Any], profile: Profile, stacks: list[Stack], strings: StringTable, t: Any
) -> None:
    """The thread's stack, frame, function and resource tables, and its weighted samples."""
    funcs: dict[tuple[str, str, int], int] = {}
    func_cols: dict[str, list[Any]] = _columns(
        "name", "isJS", "relevantForJS", "resource", "fileName", "lineNumber", "columnNumber"
    )
    resources: dict[str, int] = {}
    res_cols = _columns("lib", "name", "host", "type")
    frames: dict[tuple[int, str], int] = {}  # (func, category) -> frame
    frame_cols: dict[str, list[Any]] = _columns(
        "address",
        "category",
        "subcategory",
        "func",
        "innerWindowID",
        "implementation",
        "optimizations",
        "line",
        "column",
        "inlineDepth",
        "nativeSymbol",
    )
    nodes: dict[tuple[int | None, int], int] = {}
    stack_cols: dict[str, list[Any]] = {
        k: [] for k in ("frame", "category", "subcategory", "prefix")
    }

    def func_of(name: str, file: str, line: int) -> int:
        key = (name, file, line)
        if key not in funcs:
            resource = None
            if file:
                if file not in resources:
                    resources[file] = len(res_cols["name"])
                    for col, value in (("lib", None), ("name", strings(file)), ("host", None)):
                        res_cols[col].append(value)
                    res_cols["type"].append(1)
                resource = resources[file]
            funcs[key] = len(func_cols["name"])
            row = {
                "name": strings(name),
                "isJS": bool(file),
                "relevantForJS": bool(file),
                "resource": resource if resource is not None else -1,
                "fileName": strings(file) if file else None,
                "lineNumber": line or None,
                "columnNumber": None,
            }
            for col, value in row.items():
                func_cols[col].append(value)
        return funcs[key]

    def frame_of(func: int, category: int, line: int | None) -> int:
        key = (func, str(category))
        if key not in frames:
            frames[key] = len(frame_cols["func"])
            row = {
                "address": -1,
                "category": category,
                "subcategory": 0,
                "func": func,
                "innerWindowID": None,
                "implementation": None,
                "optimizations": None,
                "line": line,
                "column": None,
                "inlineDepth": 0,
                "nativeSymbol": None,
            }
            for col, value in row.items():
                frame_cols[col].append(value)
        return frames[key]

    def node_of(prefix: int | None, frame: int, category: int) -> int:
        key = (prefix, frame)
        if key not in nodes:
            nodes[key] = len(stack_cols["frame"])
            for col, value in (
                ("frame", frame),
                ("category", category),
                ("subcategory", 0),
                ("prefix", prefix),
            ):
                stack_cols[col].append(value)
        return nodes[key]

    leaves: list[tuple[int, int]] = []
    for s in stacks:
        state = s.state if s.state in STATE_KEYS else "unknown"
        category = _CATEGORY[_STATE_CATEGORY[state]]
        root = frame_of(func_of(f"[{STATE_LABELS[state]}]", "", 0), category, None)
        node = node_of(None, root, category)
        for index in s.frames:
            f = profile.frames[index]
            node = node_of(
                node, frame_of(func_of(f.function, f.file, f.line), category, f.line), category
            )
        leaves.append((node, s.count))
    thread["samples"] = _samples(leaves, t.first_seen_s * _MS, t.last_seen_s * _MS)
    thread["stackTable"] = {**stack_cols, "length": len(stack_cols["frame"])}
    thread["frameTable"] = {**frame_cols, "length": len(frame_cols["func"])}
    thread["funcTable"] = {**func_cols, "length": len(func_cols["name"])}
    thread["resourceTable"] = {**res_cols, "length": len(res_cols["name"])}
    thread["nativeSymbols"] = {
        "libIndex": [],
        "address": [],
        "name": [],
        "functionSize": [],
        "length": 0,
    }


def _columns(*names: str) -> dict[str, list[Any]]:
    """A processed-format table's columns, empty: a list per column name."""
    return {name: [] for name in names}


def _samples(leaves: list[tuple[int, int]], start_ms: float, end_ms: float) -> dict[str, Any]:
    """One weighted sample per distinct stack, spread evenly over the thread's life."""
    step = (end_ms - start_ms) / len(leaves) if leaves else 0.0
    return {
        "stack": [node for node, _ in leaves],
        "time": [round(start_ms + i * step, 3) for i in range(len(leaves))],
        "eventDelay": [None] * len(leaves),
        "weight": [count for _, count in leaves],
        "weightType": "samples",
        "length": len(leaves),
    }


def _markers(profile: Profile, key: tuple[int, int], strings: StringTable) -> dict[str, Any]:
    """An interval marker per stretch of bins in which one state led the thread's time."""
    cols: dict[str, list[Any]] = {
        k: [] for k in ("data", "name", "startTime", "endTime", "phase", "category")
    }
    tl = profile.timeline
    lane = next((x for x in tl.lanes if (x.pid, x.tid) == key), None)
    if lane is not None:
        bin_ms = tl.bin_s * _MS
        for stretch in lane_runs(lane, len(tl.t_s)):
            name = _MARKER_NAMES.get(stretch.state)
            if name is None:
                continue
            start = round(stretch.start * bin_ms, 3)
            end = round((stretch.start + stretch.length) * bin_ms, 3)
            row = {
                "data": {
                    "type": name.replace(" ", "").replace("/", ""),
                    "duration": round(end - start, 3),
                    "tid": key[1],
                    "share": round(stretch.share, 3),
                },
                "name": strings(name),
                "startTime": start,
                "endTime": end,
                "phase": _INTERVAL_PHASE,
                "category": _CATEGORY[_STATE_CATEGORY[stretch.state]],
            }
            for col, value in row.items():
                cols[col].append(value)
    return {**cols, "length": len(cols["name"])}
