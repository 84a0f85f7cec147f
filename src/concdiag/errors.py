"""One exception hierarchy, caught once in the CLI and printed as one line with its exit code.

Exit codes are a public interface (documented in docs/exit-codes.md):
0 success, 1 policy failed, 2 usage or input error, 3 the target could not be profiled,
4 a target failed under `check` or `whatif` (the report is still written), 5 the target
deadlocked (concdiag ended it; the report is written), 130 interrupted by the user (partial
report written). `profile` otherwise exits with the target's own status
(`target_exit_code`), so it can stand in for ``python`` in CI.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_POLICY_FAILED = 1
EXIT_USAGE = 2
EXIT_CANNOT_PROFILE = 3
EXIT_TARGET_FAILED = 4
EXIT_DEADLOCK = 5
EXIT_INTERRUPTED = 130
#: How a shell reports a process killed by signal N: 128 + N.
EXIT_SIGNAL_BASE = 128


def target_exit_code(code: int | None, signal_number: int | None) -> int:
    """The status ``python`` itself would have left with: its code, or 128+N after signal N."""
    if signal_number is not None:
        return EXIT_SIGNAL_BASE + signal_number
    return code if code is not None else EXIT_OK


class ConcdiagError(Exception):
    """An error the user can act on: a one-line message and the exit code to leave with."""

    exit_code = EXIT_CANNOT_PROFILE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(ConcdiagError):
    """Bad input from the user: missing script, syntax error, unwritable output, bad option."""

    exit_code = EXIT_USAGE


class CannotProfileError(ConcdiagError):
    """The target exists but could not be observed (no permission, py-spy missing, ...)."""

    exit_code = EXIT_CANNOT_PROFILE


class ProfileFormatError(UsageError):
    """A saved profile that is not a concdiag profile or has an unsupported schema version."""
