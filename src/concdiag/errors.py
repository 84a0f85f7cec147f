"""One exception hierarchy, caught once in the CLI and printed as one line with its exit code.

Exit codes are a public interface (documented in docs/exit-codes.md):
0 success, 1 policy failed, 2 usage or input error, 3 the target could not be profiled,
4 the target failed (non-zero exit or killed by a signal; the report is still written),
5 the target deadlocked (concdiag ended it; the report is written), 130 interrupted by the
user (partial report written).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_POLICY_FAILED = 1
EXIT_USAGE = 2
EXIT_CANNOT_PROFILE = 3
EXIT_TARGET_FAILED = 4
EXIT_DEADLOCK = 5
EXIT_INTERRUPTED = 130


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
