"""Whether concdiag may read another process, and if not, one line saying what fixes it.

Linux guards ``/proc/PID/mem`` like ``ptrace``: the same user (or root, or CAP_SYS_PTRACE),
and Yama's ``kernel.yama.ptrace_scope`` on top. Containers may also need SYS_PTRACE.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from concdiag.errors import CannotProfileError

CAP_SYS_PTRACE = 19


def _ptrace_scope() -> int | None:
    try:
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    except (OSError, ValueError):
        return None


def _has_cap_sys_ptrace() -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    except (OSError, ValueError):
        pass
    return False


def _in_container() -> bool:
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    try:
        text = Path("/proc/1/cgroup").read_text()
    except OSError:
        return False
    return any(word in text for word in ("docker", "kubepods", "containerd", "libpod"))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def permission_advice(
    pid: int,
    target_uid: int | None,
    my_uid: int,
    ptrace_scope: int | None,
    cap_sys_ptrace: bool,
    in_container: bool,
) -> str:
    """One line naming what keeps concdiag from reading the target, and what fixes it."""
    fixes = []
    if target_uid is not None and target_uid != my_uid and not cap_sys_ptrace:
        fixes.append(f"run concdiag as user {_user_name(target_uid)} (the target's) or with sudo")
    if ptrace_scope == 3:
        fixes.append("kernel.yama.ptrace_scope is 3: attaching is disabled until reboot")
    elif ptrace_scope == 2 and not cap_sys_ptrace:
        fixes.append("kernel.yama.ptrace_scope is 2: only root may attach (sudo)")
    elif ptrace_scope == 1 and not cap_sys_ptrace:
        fixes.append(
            "kernel.yama.ptrace_scope is 1: attach with sudo, or set "
            "`sysctl kernel.yama.ptrace_scope=0`"
        )
    if in_container and not cap_sys_ptrace:
        fixes.append("in a container, start it with --cap-add SYS_PTRACE")
    if not fixes:
        fixes.append("run concdiag with sudo or CAP_SYS_PTRACE")
    return f"not permitted to read process {pid} (ptrace): " + "; ".join(fixes)


def denied(pid: int) -> CannotProfileError:
    try:
        target_uid: int | None = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        target_uid = None
    return CannotProfileError(
        permission_advice(
            pid, target_uid, os.geteuid(), _ptrace_scope(), _has_cap_sys_ptrace(), _in_container()
        )
    )
