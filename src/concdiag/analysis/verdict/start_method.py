"""Which start method the target's worker processes use, so the speedup model charges its cost.

Child processes seen in the run say it best: a forkserver process, children started by
multiprocessing's spawn entry point, or children with the parent's own command line (forked).
Failing those, a call in the target's own source that picks one (``set_start_method``,
``get_context``, and so ``mp_context=get_context(...)``); failing that, the default of the
target's Python version and platform: fork on Linux up to 3.13, forkserver from 3.14 (every
POSIX platform but macOS), spawn on macOS and Windows.
"""

from __future__ import annotations

import ast
import re

from concdiag.analysis.source import parsed_source
from concdiag.analysis.verdict.speedup import START_COSTS
from concdiag.model import ProcessProfile
from concdiag.model.speedup import ProcessStart

#: The calls that name a start method as their first argument (or ``method=``).
_CHOOSERS = ("set_start_method", "get_context")
_SPAWN_MAIN = "multiprocessing.spawn"
_FORKSERVER_MAIN = "multiprocessing.forkserver"


def default_method(version: str, platform: str) -> tuple[str, str]:
    """The start method a program gets without choosing one, and the phrase saying so."""
    system = platform.split(" ", 1)[0] if platform else "Linux"
    found = re.match(r"(\d+)\.(\d+)", version)
    major_minor = (int(found.group(1)), int(found.group(2))) if found else (3, 13)
    name = f"{major_minor[0]}.{major_minor[1]}"
    if system in ("Darwin", "Windows"):
        return "spawn", f"default on {'macOS' if system == 'Darwin' else system}"
    method = "forkserver" if major_minor >= (3, 14) else "fork"
    return method, f"default for {name} on {system}"


def methods_in_source(path: str) -> list[tuple[str, int, str]]:
    """(method, line, call) for each call in one file that picks a start method."""
    source = parsed_source(path)
    if source is None:
        return []
    found = []
    for node in ast.walk(source.tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in _CHOOSERS:
            continue
        args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg == "method"]
        method = args[0].value if args and isinstance(args[0], ast.Constant) else None
        if isinstance(method, str) and method in START_COSTS:
            found.append((method, node.lineno, f"{name}({method!r})"))
    return sorted(found, key=lambda f: f[1])


def method_seen(processes: list[ProcessProfile]) -> tuple[str, str] | None:
    """The start method the run's child processes show, and the phrase saying so."""
    root = next((p for p in processes if p.is_root), None)
    children = [p for p in processes if not p.is_root and p.python]
    commands = [" ".join(p.command) for p in children]
    if any(_FORKSERVER_MAIN in c for c in commands):
        return "forkserver", "a forkserver process was seen"
    spawned = sum(_SPAWN_MAIN in c for c in commands)
    if spawned:
        return "spawn", f"{spawned} child process(es) started by multiprocessing's spawn"
    forked = sum(root is not None and p.command == root.command for p in children)
    if forked:
        return "fork", f"{forked} child process(es) forked from the program"
    return None


def process_start(
    version: str, platform: str, files: list[str], processes: list[ProcessProfile]
) -> ProcessStart:
    """The start method to charge: seen in the run, else chosen in the source, else default."""
    seen = method_seen(processes)
    if seen is not None:
        method, reason = seen
        source = "observed"
    else:
        chosen = [(f, hit) for f in files for hit in methods_in_source(f)]
        if chosen:
            path, (method, line, call) = chosen[0]
            reason = f"{call} at {path.rsplit('/', 1)[-1]}:{line}"
            source = "source"
        else:
            method, reason = default_method(version, platform)
            source = "default"
    cost = START_COSTS[method]
    return ProcessStart(method, source, reason, cost.per_process_s, cost.once_s)
