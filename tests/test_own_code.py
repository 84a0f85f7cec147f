"""concdiag's own frames in a target's stacks: stripped where they only pass control on."""

from __future__ import annotations

import pytest

from concdiag.own_code import OWN_WORK_FRAME, is_lock_tracker, is_own, strip_own, user_command

SITE = "/venv/lib/python3.11/site-packages/concdiag"
PKG = f"{SITE}/collectors"  # where the in-target files sat in earlier recordings
AGENT = f"{SITE}/agent"
MP = "/usr/lib/python3.11/multiprocessing"
LAUNCH = (
    ("<module>", f"{PKG}/_bootstrap.py", 336),
    ("main", f"{PKG}/_bootstrap.py", 305),
    ("_run_target", f"{PKG}/_bootstrap.py", 326),
    ("_run_target.<locals>.<lambda>", f"{PKG}/_bootstrap.py", 319),
    ("run_path", "<frozen runpy>", 291),
    ("_run_code", "<frozen runpy>", 88),
)
#: A forked pool worker under `concdiag whatif`: the parent's stack, inherited through the
#: fork, passes through the pool swap's creation wrappers and the start watcher.
WORKER_UNDER_WHATIF = (
    *LAUNCH,
    ("<module>", "/venv/bin/isort", 8),
    ("_swap_class.<locals>.__new__", f"{PKG}/_pool_swap.py", 199),
    ("_create", f"{PKG}/_pool_swap.py", 163),
    ("Pool.__init__", f"{MP}/pool.py", 215),
    ("_watch_starts.<locals>.wrap.<locals>.tracked_start", f"{PKG}/_pool_watch.py", 205),
    ("BaseProcess.start", f"{MP}/process.py", 121),
    ("BaseProcess._bootstrap", f"{MP}/process.py", 314),
    ("worker", f"{MP}/pool.py", 125),
    ("compile", "/usr/lib/python3.11/re/__init__.py", 227),
)


def test_a_whatif_workers_task_is_the_programs_not_concdiags() -> None:
    kept = strip_own(WORKER_UNDER_WHATIF)
    assert kept[0] == ("<module>", "/venv/bin/isort", 8)
    assert kept[-2:] == WORKER_UNDER_WHATIF[-2:]
    assert not any("/concdiag/" in f[1] for f in kept)


def test_concdiags_own_work_in_the_target_is_one_frame() -> None:
    note = (*WORKER_UNDER_WHATIF[:9], ("note", f"{PKG}/_pool_watch.py", 80))
    assert strip_own(note) == (OWN_WORK_FRAME,)
    sampler = (("_Sampler.run", f"{PKG}/inprocess_agent.py", 295),)
    assert strip_own(sampler) == (OWN_WORK_FRAME,)


#: The same files in today's layout (``concdiag/agent``) and in the earlier one, still read
#: in old recordings and version-1 profiles.
LAYOUTS = {
    "agent folder": {
        "bootstrap": f"{AGENT}/bootstrap.py",
        "watch": f"{AGENT}/pools/watch.py",
        "sampler": f"{AGENT}/inprocess/sampler.py",
        "tracker": f"{AGENT}/locks/tracker.py",
    },
    "earlier files": {
        "bootstrap": f"{PKG}/_bootstrap.py",
        "watch": f"{PKG}/_pool_watch.py",
        "sampler": f"{PKG}/inprocess_agent.py",
        "tracker": f"{PKG}/_lock_tracker.py",
    },
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_in_target_file_is_concdiags_in_either_layout(layout: str) -> None:
    files = LAYOUTS[layout]
    assert all(is_own(path) for path in files.values())
    assert is_lock_tracker(files["tracker"]) and not is_lock_tracker(files["watch"])
    user = (("<module>", "/app/main.py", 3), ("work", "/app/main.py", 9))
    waiting = (*user, ("_contended", files["tracker"], 120))
    assert strip_own(waiting) == user
    assert strip_own((("note", files["watch"], 80),)) == (OWN_WORK_FRAME,)
    assert strip_own((("_Sampler.run", files["sampler"], 295),)) == (OWN_WORK_FRAME,)
    python = "/usr/bin/python3"
    assert user_command([python, files["bootstrap"], "main.py", "-x"]) == [python, "main.py", "-x"]


def test_a_users_file_named_like_ours_is_the_users() -> None:
    assert not is_own("/app/collectors/_bootstrap_helpers.py")
    assert not is_own("/app/agent/bootstrap.py")
