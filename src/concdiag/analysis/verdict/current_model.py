"""What concurrency model the target uses now: from what ran, and from its source.

The run says what happened (worker threads, child Python processes, an asyncio loop); a
scan of the target's own source files (never the standard library or site-packages) points
to the lines that create each thread, executor, pool or event loop, so the advice can name
the line to change.
"""

from __future__ import annotations

import ast
import os
import sys
import sysconfig

from concdiag.analysis.source import parsed_source
from concdiag.model import CodeSite

_CALLS: dict[str, str] = {
    "Thread": "thread",
    "ThreadPoolExecutor": "thread_pool",
    "ThreadPool": "thread_pool",
    "ProcessPoolExecutor": "process_pool",
    "Pool": "process_pool",
    "Process": "process",
    "run": "asyncio",  # only as asyncio.run
    "run_until_complete": "asyncio",
    "new_event_loop": "asyncio",
}
#: At most this many source files are scanned for creation sites (the target first, then the
#: user files its stacks ran). A stated choice, bounding the scan's time.
MAX_FILES = 50
#: A site's source line is kept to this many characters: a stated choice, to keep the profile
#: small when a line is a long literal.
MAX_CODE_CHARS = 200


def _call_name(node: ast.Call) -> tuple[str, str]:
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = func.value
        owner_name = owner.id if isinstance(owner, ast.Name) else ""
        if isinstance(owner, ast.Attribute):
            owner_name = owner.attr
        return func.attr, owner_name
    if isinstance(func, ast.Name):
        return func.id, ""
    return "", ""


def scan_source(path: str) -> list[CodeSite]:
    """Sites in one file that create threads, pools, processes or event loops."""
    source = parsed_source(path)
    if source is None:
        return []
    lines = source.lines
    sites = []
    for node in ast.walk(source.tree):
        if not isinstance(node, ast.Call):
            continue
        name, owner = _call_name(node)
        kind = _CALLS.get(name)
        if kind is None:
            continue
        if name == "run" and owner != "asyncio":
            continue
        if (
            name == "Pool"
            and owner not in ("", "multiprocessing", "mp", "pool")
            and not (owner.endswith("ctx") or owner.endswith("context"))
        ):
            continue
        if (
            name == "Process"
            and owner not in ("", "multiprocessing", "mp")
            and not (owner.endswith("ctx") or owner.endswith("context"))
        ):
            continue
        line = lines[node.lineno - 1].strip() if 0 < node.lineno <= len(lines) else ""
        sites.append(CodeSite(file=path, line=node.lineno, kind=kind, code=line[:MAX_CODE_CHARS]))
    sites.sort(key=lambda s: s.line)
    return sites


def _library_roots() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {paths.get("stdlib", ""), paths.get("purelib", ""), paths.get("platlib", "")}
    roots.add(sys.prefix)
    roots.add(sys.base_prefix)
    return [r for r in roots if r]


def user_files(candidates: set[str], target_file: str | None) -> list[str]:
    """The target script and the files from its stacks that are user code, not libraries."""
    files: list[str] = []
    if target_file:
        files.append(os.path.abspath(target_file))
    roots = _library_roots()
    for path in sorted(candidates):
        if not path or not os.path.isabs(path) or not path.endswith(".py"):
            continue
        if "site-packages" in path or "dist-packages" in path or "/lib/python3" in path:
            continue
        if any(path.startswith(root + os.sep) for root in roots):
            continue
        if path not in files and os.path.isfile(path):
            files.append(path)
    return files[:MAX_FILES]


def detect_kind(
    side_workers: int,
    child_python_processes: int,
    asyncio_seen: bool,
    asyncio_main: bool = False,
) -> tuple[str, str]:
    """The model seen at run time, and the evidence for it.

    An event loop in the main thread makes the program an asyncio one even when it also runs
    threads (executors for blocking calls, a server, a client library's helper threads).
    """
    if child_python_processes > 0:
        return "multiprocessing", f"{child_python_processes} child Python process(es) ran"
    if asyncio_main:
        also = f", beside {side_workers} other working thread(s)" if side_workers else ""
        return "asyncio", f"the main thread ran an asyncio event loop{also}"
    if side_workers > 0:
        return "threading", f"{side_workers} Python thread(s) besides the main thread did work"
    if asyncio_seen:
        return "asyncio", "an asyncio event loop ran"
    return "serial", "one thread did the work"
