"""The target's own source files, read and parsed once for every rule that looks at them.

The current-model scan (creation sites), the start-method scan and the critical sections
(``with`` blocks) all walk the same user files; each file is read and parsed once per
version of it (path, size and modification time), with one size limit.
"""

from __future__ import annotations

import ast
import io
import os
import tokenize
from dataclasses import dataclass
from functools import lru_cache

#: Larger files are not parsed: a stated choice, bounding parse time and memory. Hand-written
#: modules stay well below it (the standard library's largest, the generated
#: ``pydoc_data/topics.py``, is about 0.8 MB); generated, data-like modules can pass it.
MAX_SOURCE_BYTES = 2_000_000
#: Parsed files kept: the user files of one run are at most
#: `concdiag.analysis.verdict.current_model.MAX_FILES` (50), plus a few met only in lock sites.
_CACHED_FILES = 64


@dataclass(frozen=True, slots=True, eq=False)
class ParsedSource:
    """One source file's lines (decoded as Python decodes it) and its syntax tree.

    Compared and hashed by identity: one version of a file is one object (it is cached), so
    what a rule derives from it can be cached on it cheaply.
    """

    lines: tuple[str, ...]
    tree: ast.Module


def parsed_source(path: str) -> ParsedSource | None:
    """``path`` parsed, or None when it cannot be read, is too large, or is not Python."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    if status.st_size > MAX_SOURCE_BYTES:
        return None
    return _parse(path, status.st_size, status.st_mtime_ns)


@lru_cache(maxsize=_CACHED_FILES)
def _parse(path: str, size: int, mtime_ns: int) -> ParsedSource | None:
    """Keyed on size and modification time too, so a file edited between runs is read again."""
    try:
        with open(path, "rb") as handle:
            source = handle.read(MAX_SOURCE_BYTES + 1)
        if len(source) > MAX_SOURCE_BYTES:
            return None
        # Parsed as bytes so a BOM or a coding declaration is honoured, as Python honours it.
        tree = ast.parse(source, filename=path)
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except (OSError, SyntaxError, ValueError):
        return None
    text = source.decode(encoding, errors="replace")
    return ParsedSource(lines=tuple(text.splitlines()), tree=tree)
