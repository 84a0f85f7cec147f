"""Real programs nobody on this project wrote, each run at 1 and 2 workers by its own flag.

Each program runs through its entry point (the script pip installs, ``bin/black``...) as a
user runs it, or as a script (``compileall``, a ``setup.py``), on an input made by
`inputs` at a big and a small size: a copy of standard-library packages for the linters, a
generated test suite, Sphinx project, C extensions, doit tasks or web site for the others.
The third-party ones come pinned from ``requirements.txt`` into a virtual environment of
their own (see ``run.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.realprograms.inputs import (
    STDLIB,
    Maker,
    c_extensions,
    dodo_tasks,
    sphinx_project,
    stdlib_corpus,
    unittest_suite,
    website,
)

#: Standard-library packages copied into the big corpus (169 files, 82k lines on Python 3.11).
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
#: The small input of the linters: one package of 5 files (about 1.4k lines), the size of a
#: pull request's changed files, where starting a second worker process may not pay.
SMALL = ("json",)


@dataclass(frozen=True, slots=True)
class Program:
    """One program, its worker flag, and the inputs it runs on."""

    name: str
    #: The script to run: an entry point in the bench's environment (``{bin}/black``), or a
    #: path (``{stdlib}/compileall.py``, ``{input}/setup.py``); then its arguments, with
    #: ``{workers}``, ``{input}`` (the input's folder, also the run's working directory) and
    #: ``{url}`` (the local site's address) filled in per run.
    script: str
    args: tuple[str, ...]
    make_input: Maker
    #: Installed from PyPI into the bench's environment (else it is the standard library's).
    installed: bool
    #: How it runs its workers.
    pool: str
    #: The recommendation that 2 workers being fastest makes right: ``multiprocessing`` where
    #: the program's workers are Python processes doing the work, ``threading`` where they
    #: are threads (waiting on the network, or driving external commands that do it).
    parallel_right: str = "multiprocessing"
    #: Its arguments for a run without any pool, where it has such a mode and its 1-worker
    #: run still uses a pool (isort's ``-j 1`` is a pool of one; without ``-j`` it sorts in
    #: the main process): concdiag's question is a pool or none, so the truth times it too.
    pool_free: tuple[str, ...] | None = None
    #: It checks the local site (`site_server.py`), started beside the run, not under it.
    needs_site: bool = False

    def argv(
        self, python: str, bin_dir: Path, workers: int, folder: Path, url: str = ""
    ) -> list[str]:
        """``python SCRIPT ARGS`` for ``workers`` workers on the input in ``folder``.

        ``workers`` 0 is the run without any pool (`pool_free`).
        """
        fields = {"bin": str(bin_dir), "stdlib": str(STDLIB), "input": str(folder), "url": url}
        script = self.script.format(**fields)
        chosen = self.pool_free if workers == 0 and self.pool_free is not None else self.args
        args = [a.format(workers=workers, **fields) for a in chosen]
        return [python, script, *args]


#: The linters and compilers: multiprocessing or concurrent.futures process pools.
POOLED = (
    Program(
        "black",
        "{bin}/black",
        ("--check", "-q", "-W", "{workers}", "{input}"),
        stdlib_corpus(MEDIUM, SMALL),
        True,
        "ProcessPoolExecutor driven by an asyncio loop; compiled with mypyc",
    ),
    Program(
        "flake8",
        "{bin}/flake8",
        ("-j", "{workers}", "{input}"),
        stdlib_corpus(FULL, SMALL),
        True,
        "multiprocessing.Pool (-j 1 runs in the main process)",
    ),
    Program(
        "pylint",
        "{bin}/pylint",
        ("-j", "{workers}", "--recursive=y", "--persistent=n", "--score=n", "{input}"),
        stdlib_corpus(MEDIUM, SMALL),
        True,
        "ProcessPoolExecutor (-j 1 runs in the main process)",
    ),
    Program(
        "isort",
        "{bin}/isort",
        ("--check-only", "-q", "-j", "{workers}", "{input}"),
        stdlib_corpus(FULL, SMALL),
        True,
        "multiprocessing.Pool (of 1 process at -j 1; none without -j)",
        pool_free=("--check-only", "-q", "{input}"),
    ),
    Program(
        "autopep8",
        "{bin}/autopep8",
        ("--diff", "-r", "-j", "{workers}", "{input}"),
        stdlib_corpus(MEDIUM, SMALL),
        True,
        "multiprocessing.Pool (-j 1 runs in the main process)",
    ),
    Program(
        "compileall",
        "{stdlib}/compileall.py",
        ("-q", "-f", "-j", "{workers}", "{input}"),
        stdlib_corpus(FULL, SMALL),
        False,
        "ProcessPoolExecutor (-j 1 runs in the main process); the standard library's",
    ),
)

#: Programs whose workers are not a multiprocessing or concurrent.futures pool: worker
#: processes of their own making, and threads over external commands or the network.
OWN_MAKING = (
    Program(
        "pytest-xdist",
        "{bin}/pytest",
        ("-q", "-p", "no:cacheprovider", "-n", "{workers}", "tests"),
        unittest_suite,
        True,
        "execnet gateways: a worker interpreter per -n, talking over pipes (none without -n)",
        pool_free=("-q", "-p", "no:cacheprovider", "tests"),
    ),
    Program(
        "stestr",
        "{bin}/stestr",
        ("run", "--concurrency", "{workers}"),
        unittest_suite,
        True,
        "a fresh interpreter per worker through subprocess, results back over a subunit pipe",
    ),
    Program(
        "sphinx",
        "{bin}/sphinx-build",
        ("-q", "-E", "-b", "html", "-j", "{workers}", ".", "_build/html"),
        sphinx_project,
        True,
        "forked multiprocessing.Process workers of its own, results over pipes (-j 1: none)",
    ),
    Program(
        "build_ext",
        "{input}/setup.py",
        ("-q", "build_ext", "-f", "-j", "{workers}"),
        c_extensions,
        True,
        "setuptools: a thread per extension, each running the C compiler (none without -j)",
        parallel_right="threading",
        pool_free=("-q", "build_ext", "-f"),
    ),
    Program(
        "doit",
        "{bin}/doit",
        ("-n", "{workers}", "-P", "thread", "-a", "--db-file", ".doit.db"),
        dodo_tasks,
        True,
        "threads each running a task's shell command, gzip (none at -n 0)",
        parallel_right="threading",
        pool_free=("-n", "0", "-a", "--db-file", ".doit.db"),
    ),
    Program(
        "linkchecker",
        "{bin}/linkchecker",
        ("--no-status", "-o", "none", "-f", "linkcheckerrc", "-t", "{workers}", "{url}"),
        website,
        True,
        "threads checking links on a site served from another process on 127.0.0.1 (none at -t 0)",
        parallel_right="threading",
        pool_free=("--no-status", "-o", "none", "-f", "linkcheckerrc", "-t", "0", "{url}"),
        needs_site=True,
    ),
)

PROGRAMS = POOLED + OWN_MAKING


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
