"""Atomic file writes and early checks that an output path is writable."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from concdiag.errors import UsageError

#: Temporary files being written right now, removed by a hard exit (second Ctrl-C).
IN_FLIGHT: set[str] = set()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it.

    A reader (or a crash) never sees a half-written report: either the old file or the new.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    IN_FLIGHT.add(tmp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        IN_FLIGHT.discard(tmp)


def discard_in_flight() -> None:
    """Remove half-written temporary files before a hard exit; finished files stay."""
    for tmp in list(IN_FLIGHT):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def check_writable(path: Path) -> None:
    """Fail before the target starts if ``path`` cannot be written."""
    if path.exists() and path.is_dir():
        raise UsageError(f"output path {path} is a directory")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output folder {parent}: {exc.strerror}") from exc
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"output file {path} is not writable")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".concdiag-check.", dir=parent)
    except OSError as exc:
        raise UsageError(f"output folder {parent} is not writable: {exc.strerror}") from exc
    os.close(fd)
    os.unlink(tmp)
