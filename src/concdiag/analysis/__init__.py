"""From a recording to a `Profile`: accounting, verdict, locks, what-if. Pure functions.

The subpackages hold one concern each: ``accounting/`` (ticks to per-thread figures),
``verdict/`` (figures to a recommendation), ``locks/`` (lock waits and deadlocks),
``whatif/`` (measured alternatives); ``profile.py`` puts them together, ``deep.py`` joins
deep mode's tables.
"""

from concdiag.analysis.profile import (
    OVERHEAD_WARN_SHARE,
    RunContext,
    build_profile,
    exit_status,
    replay_profile,
)

__all__ = ["OVERHEAD_WARN_SHARE", "RunContext", "build_profile", "exit_status", "replay_profile"]
