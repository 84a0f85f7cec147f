"""The inputs the real programs run on, each made at a big and a small size.

Big inputs hold enough work that a second worker pays for its start-up; small ones hold a
handful of items, so starting a worker (a new interpreter, its imports, a handshake) can cost
more than the work it takes over: the case where the right answer is to stay serial.
Every maker writes into an empty folder and returns how many items (files, tests, pages,
tasks) it made, so the table can say what "big" and "small" meant.
"""

from __future__ import annotations

import shutil
import sysconfig
import textwrap
from collections.abc import Callable
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SIZES = ("big", "small")

#: A maker: (folder, size) -> number of items made.
Maker = Callable[[Path, str], int]


def stdlib_corpus(big: tuple[str, ...], small: tuple[str, ...]) -> Maker:
    """Standard-library packages (sources only) copied into the folder."""

    def make(dest: Path, size: str) -> int:
        return copy_corpus(dest, big if size == "big" else small)

    return make


def copy_corpus(dest: Path, packages: tuple[str, ...]) -> int:
    """Copy standard-library packages (sources only) into ``dest``; the number of files."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in packages:
        shutil.copytree(STDLIB / name, dest / name, ignore=ignore, dirs_exist_ok=True)
    return sum(1 for _ in dest.rglob("*.py"))


#: The unittest suite: (files, tests per file, loop size per test). A loop of 1.2M
#: multiply-adds took about 85 ms of pure Python on this machine's 3.11, so the big suite is
#: about 7 s of test time at one worker and the small one about 50 ms.
SUITE = {"big": (8, 5, 2_400_000), "small": (1, 3, 200_000)}


def unittest_suite(dest: Path, size: str) -> int:
    """A package ``tests`` of unittest test cases doing pure-Python CPU work.

    Plain ``unittest`` classes, so pytest (with xdist) and stestr both run it as it is.
    Also writes stestr's ``.stestr.conf``.
    """
    files, per_file, loop = SUITE[size]
    tests = dest / "tests"
    tests.mkdir(parents=True)
    (tests / "__init__.py").write_text("")
    for f in range(files):
        methods = "\n".join(
            f"    def test_{t}(self) -> None:\n"
            f"        self.assertGreater(checksum({loop} + {t}), 0)\n"
            for t in range(per_file)
        )
        (tests / f"test_part{f}.py").write_text(
            "import unittest\n\n\n"
            "def checksum(n: int) -> int:\n"
            "    total = 0\n"
            "    for i in range(n):\n"
            "        total = (total + i * i) % 1_000_003\n"
            "    return total + 1\n\n\n"
            f"class Part{f}(unittest.TestCase):\n{methods}"
        )
    (dest / ".stestr.conf").write_text("[DEFAULT]\ntest_path=./tests\ntop_dir=./\n")
    return files * per_file


#: Sphinx pages: (pages, sections per page). Sphinx reads in parallel only beyond a few
#: documents per worker, so the small project (3 pages) stays under that, as a user's
#: three-page manual would.
PAGES = {"big": (36, 24), "small": (3, 4)}


def sphinx_project(dest: Path, size: str) -> int:
    """A Sphinx project of reStructuredText pages (prose, lists, tables, code, cross-refs)."""
    pages, sections = PAGES[size]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "conf.py").write_text(
        'project = "bench"\nexclude_patterns = ["_build"]\nextensions = []\n'
    )
    toc = "\n".join(f"   page{p}" for p in range(pages))
    (dest / "index.rst").write_text(f"Bench\n=====\n\n.. toctree::\n\n{toc}\n")
    for p in range(pages):
        body = [f"Page {p}\n{'=' * (5 + len(str(p)))}\n"]
        for s in range(sections):
            body.append(_rst_section(p, s))
        (dest / f"page{p}.rst").write_text("\n".join(body))
    return pages


def _rst_section(page: int, section: int) -> str:
    title = f"Section {page}.{section}"
    rows = "\n".join(f"   * - item {r}\n     - value {r * section}" for r in range(6))
    return textwrap.dedent(
        f"""
{title}
{"-" * len(title)}

This paragraph has *emphasis*, **strong text**, ``literal code`` and a reference to
:ref:`sec-{page}-{(section + 1) % 3}` so the resolver has work. It goes on for a few
lines to look like the prose of a manual, with a footnote [#f{section}]_ as well.

.. _sec-{page}-{section}:

- first point of {title}
- second point, with a `link <https://example.invalid/{page}/{section}>`_
- third point

.. list-table::
   :header-rows: 1

   * - name
     - value
{rows}

.. code-block:: python

   def example_{section}(x: int) -> int:
       return x * {section} + {page}

.. [#f{section}] A footnote of section {section}.
"""
    )


#: C extensions: (extensions, functions per extension). gcc took about 4 s for 400 of these
#: functions here, so the big build is about 8 s of compiling at one worker.
EXTENSIONS = {"big": (6, 130), "small": (1, 30)}


def c_extensions(dest: Path, size: str) -> int:
    """A ``setup.py`` with several C extensions, for ``setup.py build_ext -j N``."""
    count, functions = EXTENSIONS[size]
    dest.mkdir(parents=True, exist_ok=True)
    for e in range(count):
        funcs = "\n".join(
            f"static long f{i}(long x) {{ long s = 0; for (long k = 0; k < x; k++) "
            f"{{ s += (k * {i + 3}) ^ (s >> {i % 7 + 1}); if (s % {i + 11} == 0) s += k; }} "
            "return s; }"
            for i in range(functions)
        )
        calls = " + ".join(f"f{i}(n)" for i in range(functions))
        (dest / f"ext{e}.c").write_text(
            "#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n"
            f"{funcs}\n"
            "static PyObject *run(PyObject *self, PyObject *arg) {\n"
            "    long n = PyLong_AsLong(arg);\n"
            f"    return PyLong_FromLong({calls});\n}}\n"
            'static PyMethodDef methods[] = {{"run", run, METH_O, NULL}, {NULL, NULL, 0, NULL}};\n'
            f'static struct PyModuleDef mod = {{PyModuleDef_HEAD_INIT, "ext{e}", NULL, -1, '
            "methods};\n"
            f"PyMODINIT_FUNC PyInit_ext{e}(void) {{ return PyModule_Create(&mod); }}\n"
        )
    names = ", ".join(f'Extension("ext{e}", ["ext{e}.c"])' for e in range(count))
    (dest / "setup.py").write_text(
        "import os\n"
        "from setuptools import Extension, setup\n\n"
        "os.chdir(os.path.dirname(os.path.abspath(__file__)))\n"
        f'setup(name="bench-ext", version="0", ext_modules=[{names}])\n'
    )
    return count


#: doit tasks: (tasks, megabytes each task compresses). ``gzip -9`` did about 18 MB/s of
#: this text here, so the big run is about 3.5 s of compressing at one worker.
TASKS = {"big": (8, 8), "small": (2, 0.2)}


def dodo_tasks(dest: Path, size: str) -> int:
    """A ``dodo.py`` whose tasks each compress a file with the ``gzip`` command."""
    count, megabytes = TASKS[size]
    dest.mkdir(parents=True, exist_ok=True)
    line = b"".join(b"%d the quick brown fox %d jumps\n" % (i, i * 7) for i in range(2000))
    blob = (line * (int(megabytes * 1_000_000) // len(line) + 1))[: int(megabytes * 1_000_000)]
    for t in range(count):
        (dest / f"data{t}.txt").write_bytes(blob)
    (dest / "dodo.py").write_text(
        "def task_pack():\n"
        f"    for t in range({count}):\n"
        "        yield {\n"
        "            'name': str(t),\n"
        "            'actions': [f'gzip -9 -c data{t}.txt > data{t}.txt.gz'],\n"
        "            'verbosity': 0,\n"
        "        }\n"
    )
    return count


#: Pages of the local site: (pages, links per page). The site server answers each request
#: after `site_server.DELAY_S`, so the big site is about 6 s of waiting at one thread.
SITE = {"big": (140, 4), "small": (3, 2)}


def website(dest: Path, size: str) -> int:
    """Static HTML pages linking to each other, served by ``site_server.py``."""
    pages, links = SITE[size]
    dest.mkdir(parents=True, exist_ok=True)
    para = "<p>" + " ".join(f"word{w}" for w in range(200)) + "</p>\n"
    for p in range(pages):
        anchors = "".join(
            f'<li><a href="page{(p * 7 + k + 1) % pages}.html">next {k}</a></li>'
            for k in range(links)
        )
        (dest / f"page{p}.html").write_text(
            f"<html><head><title>Page {p}</title></head><body><h1>Page {p}</h1>"
            f"{para * 5}<ul>{anchors}</ul></body></html>\n"
        )
    index = "".join(f'<li><a href="page{p}.html">page {p}</a></li>' for p in range(pages))
    (dest / "index.html").write_text(f"<html><body><ul>{index}</ul></body></html>\n")
    # LinkChecker paces its requests to one host (10 a second at most, about a third of that
    # on average) unless the server answers with a "LinkChecker" header, as site_server does:
    # the pacing is a rate limit that no number of threads gets past.
    (dest / "linkcheckerrc").write_text("[checking]\nmaxrequestspersecond=1000\n")
    return pages
