"""The self-contained HTML report: jinja2 with autoescape, charts as inline SVG.

Nothing is fetched at view time: CSS, script and charts are inline, so the file opens
offline from ``file://``. Charts that need no interaction are SVG drawn here, so they print
and read without script; the flame graph is drawn by a small inline script from data that
reaches the page only through ``|tojson``.
"""

from __future__ import annotations

import os.path
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jinja2

from concdiag.formatting import pct, short_name
from concdiag.model import STATE_KEYS, Profile, model_noun, recommendation_words
from concdiag.redact import mask_args
from concdiag.render.commands import (  # noqa: F401  (SHOWN_COMMAND_CHARS: tests read it here)
    SHOWN_COMMAND_CHARS,
    shown_command,
    summarised_command,
)
from concdiag.render.deep_view import html_deep_view
from concdiag.render.figures import (
    STATE_LABELS,
    clock_notes,
    gil_cell,
    key_figures,
    share_with_error,
    state_keys,
)
from concdiag.render.gil_blame_view import gil_blame_view
from concdiag.render.gil_blame_view import where as blame_where
from concdiag.render.html_charts import speedup_chart, timeline_charts
from concdiag.render.locks_view import html_locks_view
from concdiag.render.views import hot_by_state, state_index, trimmed_stacks
from concdiag.render.whatif_view import (
    OUTCOME_LABELS,
    alternative_rows,
    load_text,
    scaling_charts,
    site_rows,
)

#: Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
STATE_COLOURS = {
    "gil_held": "#D55E00",
    "gil_wait": "#E69F00",
    "native": "#009E73",
    "io": "#0072B2",
    "sync": "#CC79A7",
    "unknown": "#999999",
}

#: States whose hot code gets its own table, in the order a reviewer asks about them.
HOT_STATES = ("gil_held", "gil_wait", "native", "io", "sync")
HOT_LIMIT = 10
#: Distinct (thread, state, stack) entries sent to the flame graph; the rest are merged
#: into one "(other stacks)" entry per thread and state, keeping totals exact.
MAX_FLAME_STACKS = 3000
#: Frames of Python's import system. It runs each import through five of its own frames or
#: more (``_find_and_load`` ... ``_call_with_frames_removed``), so a chain of nested imports
#: (a worker process starting up) stacks them 25 deep under a few samples: a column of bars
#: too thin to read. The flame graph shows each run of them as one bar; the exports keep them.
IMPORT_MACHINERY = "<frozen importlib"

GLOSSARY: tuple[tuple[str, str, str], ...] = (
    (
        "bound",
        "bound",
        "What limits the program: cpu (it computes), io (it waits for the "
        "network, disk or sleep), sync (its threads wait on each other's locks), mixed, idle, "
        "or deadlock (its threads wait for each other's locks for ever).",
    ),
    (
        "recommendation",
        "recommendation",
        "The concurrency model the measurements favour: "
        "threading, multiprocessing, or serial (neither would pay).",
    ),
    (
        "confidence",
        "confidence",
        "The probability that profiling the program again gives the same recommendation, "
        "from the margins the verdict rests on and their error bars: high (0.75 and above), "
        "medium (0.5 to 0.75), low (below 0.5).",
    ),
    (
        "current_model",
        "current model",
        "What the program uses now (serial, threads, "
        "processes, asyncio), found from its threads and the lines that create them.",
    ),
    (
        "gil",
        "GIL",
        "CPython's global interpreter lock: one thread per process runs Python "
        "code at a time; native code can release it.",
    ),
    (
        "gil_held",
        "GIL held",
        "On a CPU holding the GIL: running Python code. Only one thread "
        "per process can be in this state at a time.",
    ),
    ("gil_wait", "GIL wait", "Blocked waiting to take the GIL from another thread."),
    (
        "native",
        "native CPU",
        "On a CPU without the GIL: native code that released it "
        "(hashlib, zlib, numpy...), which threads can run in parallel.",
    ),
    (
        "io",
        "I/O wait",
        "Blocked in a system call other than a lock: network, files, pipes, "
        "subprocess waits, sleep.",
    ),
    ("sync", "sync wait", "Blocked on a lock, condition, queue, event, join or future."),
    (
        "unknown",
        "unknown",
        "Not observed (the sampler missed the tick or could not read the thread), or "
        "runnable but waiting for a CPU: the machine was busier than its cores.",
    ),
    (
        "cpu_clock",
        "CPU clock",
        "The thread's own CPU time over its observed time, from the scheduler: GIL held plus "
        "native CPU must cover it, and native CPU may not exceed it.",
    ),
    (
        "error",
        "±",
        "A share's sampling error bar (about 95%), from the thread's samples and how long "
        "its runs in each state were.",
    ),
    (
        "gil_utilisation",
        "GIL utilisation",
        "Share of samples in which some thread held the GIL, per process (each has its own). "
        "Near 100% with several busy threads means their Python code ran one at a time.",
    ),
    (
        "cores_used",
        "cores used",
        "CPU seconds per second of wall time, over all processes: "
        "2.0 means two cores were busy on average.",
    ),
    (
        "worker_time",
        "worker time",
        "Thread time less waits for other workers (joins, futures, "
        "pool results); the verdict is computed on it.",
    ),
    (
        "role",
        "role",
        "worker: did work; coordinator: mostly waited for other workers; idle: did almost nothing.",
    ),
    ("wall", "wall time", "Seconds a thread was alive, as seen by the sampler."),
    (
        "cpu_time",
        "CPU time",
        "Seconds a thread ran on a CPU (user and system), from the kernel's counters.",
    ),
    ("samples", "samples", "One observation of one thread, taken every 1/rate seconds."),
    (
        "speedup",
        "predicted speedup",
        "Run time with one worker divided by the predicted run "
        "time with N workers, from the measured time split (the model is stated below the chart).",
    ),
    (
        "whatif",
        "measured alternatives",
        "concdiag whatif ran the program again with its pools swapped (threads for processes "
        "and back, serial, other numbers of workers) and timed each, without a sampler.",
    ),
    (
        "spread",
        "spread",
        "Half the range of an alternative's repeated run times: differences smaller than both "
        "spreads (or than 10% / 50 ms) are noise.",
    ),
    (
        "flame",
        "flame graph",
        "Sampled Python stacks merged: each bar is a function, as wide "
        "as the time spent in it and in what it called; callers above, callees below.",
    ),
    (
        "switch_interval",
        "switch interval",
        "How long CPython lets a thread hold the GIL "
        "before asking it to pass the GIL on (sys.getswitchinterval()).",
    ),
    (
        "partial",
        "partial profile",
        "Some data is missing (a collector failed, the run was "
        "interrupted): figures cover what was observed.",
    ),
)

#: The verdict's bound as the banner says it.
BOUND_LABELS = {
    "cpu": "CPU-bound",
    "io": "I/O-bound",
    "mixed": "Mixed CPU and I/O",
    "sync": "Lock-bound (sync)",
    "idle": "Idle",
    "deadlock": "Deadlock",
}

#: Key figures' labels to their glossary entry.
_FIGURE_TERMS = {
    "GIL utilisation": "gil_utilisation",
    "cores used": "cores_used",
    "Python CPU (GIL held)": "gil_held",
    "native CPU": "native",
    "I/O wait": "io",
    "lock wait": "sync",
    "lock wait seconds": "sync",
}


class _QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs (compiling costs ~0.1 s a report); best effort."""

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    try:
        return _QuietBytecodeCache()  # a private per-user folder under the temp dir
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("concdiag.render", "templates"),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "separators": (",", ":")}
    env.filters["pct"] = pct
    env.filters["gil"] = gil_cell
    env.filters["pct_nonzero"] = pct_nonzero
    env.filters["basename"] = os.path.basename
    env.filters["model_noun"] = model_noun
    env.globals["recommendation_words"] = recommendation_words
    env.filters["share_cell"] = lambda t, k: share_with_error(
        t.states.get(k), t.share_errors.get(k) if t.share_errors else None
    )
    return env


def pct_nonzero(x: float | None) -> str:
    """Like pct, but a small non-zero share reads "<1%", not "0%"."""
    if x is not None and 0 < x < 0.005:
        return "<1%"
    return pct(x)


def confidence_word(confidence: float) -> str:
    if confidence >= 0.75:
        return "high"
    if confidence >= 0.5:
        return "medium"
    return "low"


def flame_data(profile: Profile) -> dict[str, Any]:
    """Compact stacks for the flame graph: frames used, threads, and stacks as arrays."""
    stacks = trimmed_stacks(profile)
    threads: list[tuple[int, int]] = []
    for proc in profile.processes:
        threads.extend((proc.pid, t.tid) for t in proc.threads)
    thread_index = {key: i for i, key in enumerate(threads)}
    ranked = sorted(stacks, key=lambda s: (-s.count, s.pid, s.tid, s.state, s.frames))
    kept, dropped = ranked[:MAX_FLAME_STACKS], ranked[MAX_FLAME_STACKS:]
    # Bars merge by function and file; the lines sampled in it go to the tooltip.
    frame_ids: dict[tuple[str, str], int] = {}
    frames: list[list[Any]] = []
    rows: list[list[Any]] = []

    def local(index: int) -> int:
        f = profile.frames[index]
        key = (f.function, f.file)
        if key not in frame_ids:
            frame_ids[key] = len(frames)
            frames.append([f.function, f.file, []])
        lines: list[int] = frames[frame_ids[key]][2]
        if f.line not in lines:
            lines.append(f.line)
            lines.sort()
        return frame_ids[key]

    import_ids: list[int] = []

    def import_bar() -> int:
        if not import_ids:
            import_ids.append(len(frames))
            frames.append(["(import system)", "<frozen importlib>", []])
        return import_ids[0]

    for s in sorted(kept, key=lambda s: (s.pid, s.tid, s.state, s.frames)):
        if (s.pid, s.tid) not in thread_index:
            thread_index[(s.pid, s.tid)] = len(threads)
            threads.append((s.pid, s.tid))
        ids = flame_path(profile, s.frames, local, import_bar)
        rows.append([thread_index[(s.pid, s.tid)], state_index(s.state), s.count, ids])
    other: dict[tuple[int, int], int] = {}
    for s in dropped:
        if (s.pid, s.tid) not in thread_index:
            thread_index[(s.pid, s.tid)] = len(threads)
            threads.append((s.pid, s.tid))
        key = (thread_index[(s.pid, s.tid)], state_index(s.state))
        other[key] = other.get(key, 0) + s.count
    if other:
        frames.append(["(other stacks)", "", []])
        for (thread, state), count in sorted(other.items()):
            rows.append([thread, state, count, [len(frames) - 1]])
    interval = 1.0 / profile.run.rate_hz if profile.run.rate_hz else 0.0
    return {"frames": frames, "stacks": rows, "interval_s": interval}


def flame_path(
    profile: Profile,
    stack: tuple[int, ...],
    local: Callable[[int], int],
    import_bar: Callable[[], int],
) -> list[int]:
    """A stack's bars, outermost first: each run of import-system frames becomes one bar."""
    ids: list[int] = []
    for index in stack:
        if profile.frames[index].file.startswith(IMPORT_MACHINERY):
            bar = import_bar()
            if not ids or ids[-1] != bar:
                ids.append(bar)
        else:
            ids.append(local(index))
    return ids


def _thread_groups(profile: Profile) -> list[dict[str, Any]]:
    groups = []
    for proc in profile.processes:
        argv = shown_command(proc.command) if proc.command else [profile.run.target]
        groups.append(
            {
                "proc": proc,
                "command": summarised_command(argv),
                "full_command": " ".join(argv),
                "threads": proc.threads,
            }
        )
    return groups


def _flame_threads(profile: Profile) -> list[dict[str, Any]]:
    out = []
    index = 0
    for proc in profile.processes:
        for t in proc.threads:
            out.append({"index": index, "pid": proc.pid, "t": t})
            index += 1
    return out


def report_view(profile: Profile) -> dict[str, Any]:
    v = profile.verdict
    figures = [{"f": f, "term": _FIGURE_TERMS.get(f.label)} for f in key_figures(profile)]
    hot = [
        {"state": k, "label": STATE_LABELS[k], "lines": hot_by_state(profile, k, HOT_LIMIT)}
        for k in HOT_STATES
        if k in state_keys(profile)
    ]
    deep_view = html_deep_view(profile)
    deep_rows: dict[tuple[str, str], str] = deep_view["by_function"] if deep_view else {}

    def deep_link(function: str, file: str) -> str:
        """The deep table row of a function (hot code and flame graph link to it), or ""."""
        return deep_rows.get((file, short_name(function)), "")

    flame = flame_data(profile)
    if deep_rows:
        for frame in flame["frames"]:
            frame.append(deep_link(frame[0], frame[1]))
    return {
        "p": profile,
        "v": v,
        "run": profile.run,
        "command": " ".join(mask_args(profile.run.command)),
        "confidence_word": confidence_word(v.confidence),
        "clock_notes": clock_notes(profile),
        "bound_labels": BOUND_LABELS,
        "figures": figures,
        "state_keys": state_keys(profile),
        "labels": STATE_LABELS,
        "colours": STATE_COLOURS,
        "groups": _thread_groups(profile),
        "multi_process": len(profile.processes) > 1,
        "timeline": timeline_charts(profile),
        "hot": hot,
        "flame_threads": _flame_threads(profile),
        "data": {"flame": flame, "states": list(STATE_KEYS), "labels": STATE_LABELS},
        "deep_view": deep_view,
        "locks_view": html_locks_view(profile),
        "blame": gil_blame_view(profile),
        "blame_where": blame_where,
        "deep_link": deep_link,
        "speedup": speedup_chart(profile),
        "whatif": _whatif_view(profile),
        "glossary": GLOSSARY,
    }


def _whatif_view(profile: Profile) -> dict[str, Any]:
    w = profile.whatif
    if w is None:
        return {}
    return {
        "outcome_label": OUTCOME_LABELS.get(w.outcome, w.outcome),
        "rows": alternative_rows(w),
        "sites": site_rows(w),
        "load": load_text(w),
        "scaling": scaling_charts(w),
    }


class HtmlRenderer:
    extension = ".html"

    def render(self, profile: Profile) -> str:
        return template_environment().get_template("report.html.j2").render(**report_view(profile))
