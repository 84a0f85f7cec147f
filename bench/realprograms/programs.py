"""Real programs nobody on this project wrote, each run at 1 and 2 workers by its own flag.

Each program runs on a corpus copied from the interpreter's standard library, through its
entry point (the script pip installs, ``bin/black``...) as a user runs it, or as a script
for ``compileall``. The third-party ones come pinned from ``requirements.txt`` into a
virtual environment of their own (see ``run.py``).
"""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STDLIB = Path(sysconfig.get_paths()["stdlib"])
#: Standard-library packages copied into the corpus (169 files, 82k lines on Python 3.11).
FULL = (
    "asyncio",
    "concurrent",
    "email",
    "http",
    "importlib",
    "json",
    "logging",
    "unittest",
    "xml",
)
#: A smaller corpus for the slower programs (18 files, 14k lines on Python 3.11).
MEDIUM = ("concurrent", "http", "json", "logging")


@dataclass(frozen=True, slots=True)
class Program:
    """One program, its worker flag, and the corpus it checks."""

    name: str
    #: The script to run: an entry point in the bench's environment (``{bin}/black``), or a
    #: path (``{stdlib}/compileall.py``); then its arguments, with ``{workers}`` and
    #: ``{corpus}`` filled in per run.
    script: str
    args: tuple[str, ...]
    corpus: tuple[str, ...]
    #: Installed from PyPI into the bench's environment (else it is the standard library's).
    installed: bool
    #: How it runs its workers.
    pool: str
    #: Its arguments for a run without any pool, where it has such a mode and its 1-worker
    #: run still uses a pool (isort's ``-j 1`` is a pool of one; without ``-j`` it sorts in
    #: the main process): concdiag's question is a pool or none, so the truth times it too.
    pool_free: tuple[str, ...] | None = None

    def argv(self, python: str, bin_dir: Path, workers: int, corpus: Path) -> list[str]:
        """``python SCRIPT ARGS`` for ``workers`` workers on ``corpus`` (0: no pool)."""
        fields = {"bin": str(bin_dir), "stdlib": str(STDLIB)}
        script = self.script.format(**fields)
        chosen = self.pool_free if workers == 0 and self.pool_free is not None else self.args
        args = [a.format(workers=workers, corpus=corpus, **fields) for a in chosen]
        return [python, script, *args]


PROGRAMS = (
    Program(
        "black",
        "{bin}/black",
        ("--check", "-q", "-W", "{workers}", "{corpus}"),
        MEDIUM,
        True,
        "ProcessPoolExecutor driven by an asyncio loop; compiled with mypyc",
    ),
    Program(
        "flake8",
        "{bin}/flake8",
        ("-j", "{workers}", "{corpus}"),
        FULL,
        True,
        "multiprocessing.Pool (-j 1 runs in the main process)",
    ),
    Program(
        "pylint",
        "{bin}/pylint",
        ("-j", "{workers}", "--recursive=y", "--persistent=n", "--score=n", "{corpus}"),
        MEDIUM,
        True,
        "ProcessPoolExecutor (-j 1 runs in the main process)",
    ),
    Program(
        "isort",
        "{bin}/isort",
        ("--check-only", "-q", "-j", "{workers}", "{corpus}"),
        FULL,
        True,
        "multiprocessing.Pool (of 1 process at -j 1; none without -j)",
        pool_free=("--check-only", "-q", "{corpus}"),
    ),
    Program(
        "autopep8",
        "{bin}/autopep8",
        ("--diff", "-r", "-j", "{workers}", "{corpus}"),
        MEDIUM,
        True,
        "multiprocessing.Pool (-j 1 runs in the main process)",
    ),
    Program(
        "compileall",
        "{stdlib}/compileall.py",
        ("-q", "-f", "-j", "{workers}", "{corpus}"),
        FULL,
        False,
        "ProcessPoolExecutor (-j 1 runs in the main process); the standard library's",
    ),
)


def copy_corpus(dest: Path, packages: Iterable[str] = FULL) -> int:
    """Copy standard-library packages (sources only) into ``dest``; the number of files."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in packages:
        shutil.copytree(STDLIB / name, dest / name, ignore=ignore, dirs_exist_ok=True)
    return sum(1 for _ in dest.rglob("*.py"))


def stack_depths(profile: dict[str, Any]) -> list[int]:
    """The depth of every stored stack of a profile (its JSON, as loaded)."""
    return [len(stack["frames"]) for stack in profile["stacks"]]


def relaunched_stacks(profile: dict[str, Any]) -> int:
    """Stacks whose outermost frame comes back deeper in the same stack.

    A program's first frame (its ``<module>``) runs once per process: seen again below
    itself, the stack was pasted onto itself while it was recorded (the fault issue 11 saw:
    17 frames repeated 36 times). Only a stack that starts at a ``<module>`` frame is
    judged: a stack py-spy cut short at the top can start at a recursive function, which
    really does come back deeper (compileall's ``_walk_dir`` walking subfolders: a
    clean-clone CI run counted 3 such stacks). A stack that starts in the import system is
    left out: nested imports really do recur through the same ``_find_and_load`` line (a
    sample taken while a module imports another, as compileall's workers do at start-up).
    """
    table = profile["frames"]
    count = 0
    for stack in profile["stacks"]:
        frames: Sequence[int] = stack["frames"]
        if not frames or _in_import_system(str(table[frames[0]]["file"])):
            continue
        if table[frames[0]]["function"] != "<module>":
            continue
        if frames[0] in frames[1:]:
            count += 1
    return count


def _in_import_system(file: str) -> bool:
    return file.startswith("<frozen importlib") or file.endswith(
        ("/importlib/_bootstrap.py", "/importlib/_bootstrap_external.py")
    )
