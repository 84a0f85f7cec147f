"""concdiag's own frames in a target's stacks: stripped where they only pass control on."""

from __future__ import annotations

from concdiag.own_code import OWN_WORK_FRAME, strip_own

PKG = "/venv/lib/python3.11/site-packages/concdiag/collectors"
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
