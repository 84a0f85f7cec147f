"""Tables a module inside the target wrote to a file concdiag named: read once, at the end.

Deep mode's yappi tables and the lock tracker's tables are both written as JSON when the
target exits (or is ended); this reads either, or says in one phrase why there are none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def read_tables(
    path: Path, parse: Callable[[dict[str, Any]], T], whose: str
) -> tuple[T | None, str | None]:
    """The parsed tables, or None and why not (``whose``: "yappi's", "the lock tracker's")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, (
            f"{whose} tables were not saved: the target ended without running its exit "
            "handlers (os._exit or SIGKILL)"
        )
    except (OSError, ValueError) as exc:
        return None, f"{whose} tables could not be read: {exc}"
    try:
        return parse(data), None
    except ValueError as exc:
        return None, f"{whose} tables are incomplete: {exc}"
