"""Mask secret-looking command-line arguments before they reach any report."""

from __future__ import annotations

import re

MASK = "********"
_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|"
    r"auth|credential|session|cookie|bearer|^-?-?key$)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):[^@/\s]+@")
_LONG_TOKEN = re.compile(
    r"^(?:[A-Za-z0-9_\-]{32,}|gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9]{16,})$"
)


def mask_args(args: list[str]) -> list[str]:
    """Return ``args`` with values of secret-looking options and tokens replaced by a mask."""
    masked: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            masked.append(MASK)
            hide_next = False
            continue
        if "=" in arg:
            name, _, value = arg.partition("=")
            if value and _SECRET_NAME.search(name.lstrip("-")):
                masked.append(f"{name}={MASK}")
                continue
        if arg.startswith("-") and "=" not in arg and _SECRET_NAME.search(arg.lstrip("-")):
            masked.append(arg)
            hide_next = True
            continue
        arg = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", arg)
        if _LONG_TOKEN.match(arg) and not arg.replace("_", "").replace("-", "").isalpha():
            masked.append(MASK)
            continue
        masked.append(arg)
    return masked
